"""Who may do what: two communities, users of every role. A role refused is a
403; another community's resources are a 404 on every endpoint, lists included."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import (
    PLATFORM_ADMIN,
    Users,
    add_member,
    auth,
    member_body,
    new_community,
    plant_body,
)

PDF = b"%PDF-1.4\n%%EOF\n"
ADMIN_A, MEMBER_A, VIEWER_A, OTHER_MEMBER_A = 10, 20, 21, 22
ADMIN_B, MEMBER_B = 11, 30


@pytest.fixture
async def world(client: httpx.AsyncClient, users: Users) -> dict[str, Any]:
    for uid, name in ((20, "anna"), (21, "viola"), (22, "marco"), (30, "bea"), (31, "nuovo")):
        await users.register(uid, name)
    a = (await new_community(client, ADMIN_A, "CER-A"))["id"]
    b = (await new_community(client, ADMIN_B, "CER-B"))["id"]
    await add_member(client, a, ADMIN_A, "anna")
    await add_member(client, a, ADMIN_A, "viola", role="VIEWER")
    await add_member(client, a, ADMIN_A, "marco")
    await add_member(client, b, ADMIN_B, "bea")
    plants = {}
    for owner, pod in ((MEMBER_A, "IT001E00000001"), (OTHER_MEMBER_A, "IT001E00000002")):
        r = await client.post(
            "/api/plants/", json=plant_body(a, owner, pod=pod), headers=auth(ADMIN_A)
        )
        plants[owner] = r.json()["data"]["id"]
    r = await client.post(
        "/api/plants/", json=plant_body(b, MEMBER_B, pod="IT001E00000003"), headers=auth(ADMIN_B)
    )
    plants[MEMBER_B] = r.json()["data"]["id"]
    statute = await client.put(
        f"/api/cer/{a}/documents/statute/",
        files={"file": ("s.pdf", PDF, "application/pdf")},
        headers=auth(ADMIN_A),
    )
    assert statute.status_code == 200
    return {"a": a, "b": b, "plants": plants}


def endpoints(w: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every endpoint on community A's resources (method, path, request kwargs)."""
    a, own, other = w["a"], w["plants"][MEMBER_A], w["plants"][OTHER_MEMBER_A]
    shares = {"producers_pct": "50", "consumers_pct": "40", "community_fund_pct": "10",
              "valid_from": "2030-01-01"}  # fmt: skip
    return [
        ("GET", f"/api/cer/{a}/", {}),
        ("PUT", f"/api/cer/{a}/", {"json": {"description": "x"}}),
        ("DELETE", f"/api/cer/{a}/", {}),
        ("GET", f"/api/cer/{a}/shares/", {}),
        ("POST", f"/api/cer/{a}/shares/", {"json": shares}),
        ("PUT", f"/api/cer/{a}/documents/statute/",
         {"files": {"file": ("s.pdf", PDF, "application/pdf")}}),
        ("GET", f"/api/cer/{a}/documents/statute/", {}),
        ("GET", f"/api/cer/{a}/members/", {}),
        ("POST", f"/api/cer/{a}/members/", {"json": member_body("nuovo")}),
        ("POST", f"/api/cer/{a}/invitations/", {"json": {"email": "nuovo@example.it"}}),
        ("GET", f"/api/cer/{a}/invitations/", {}),
        ("GET", f"/api/cer/{a}/members/{OTHER_MEMBER_A}/", {}),
        ("PUT", f"/api/cer/{a}/members/{OTHER_MEMBER_A}/", {"json": {"role": "VIEWER"}}),
        ("DELETE", f"/api/cer/{a}/members/{OTHER_MEMBER_A}/", {}),
        ("GET", f"/api/cer/{a}/audit/", {}),
        ("GET", f"/api/plants/?cer_id={a}", {}),
        ("POST", "/api/plants/", {"json": plant_body(a, MEMBER_A, pod="IT001E00000009")}),
        ("GET", f"/api/plants/{own}/", {}),
        ("GET", f"/api/plants/{other}/", {}),
        ("PUT", f"/api/plants/{own}/", {"json": {"name": "x"}}),
        ("DELETE", f"/api/plants/{other}/", {}),
    ]  # fmt: skip


# Expected status per caller, in the order of endpoints() above.
OK, NO, HID = 200, 403, 404
EXPECTED = {
    # A MEMBER reads the summary, its own membership and plants; writes nothing.
    MEMBER_A: [OK, NO, NO, OK, NO, NO, OK, OK, NO, NO, NO, NO, NO, NO, NO, OK, NO, OK, NO, NO, NO],
    # A VIEWER reads everything but the audit trail; writes nothing.
    VIEWER_A: [OK, NO, NO, OK, NO, NO, OK, OK, NO, NO, NO, OK, NO, NO, NO, OK, NO, OK, OK, NO, NO],
    # Another community's member and admin: nothing exists.
    MEMBER_B: [HID] * 21,
    ADMIN_B: [HID] * 21,
}


@pytest.mark.parametrize("caller", list(EXPECTED))
async def test_each_role_gets_what_it_may_and_nothing_else(
    client: httpx.AsyncClient, world: dict[str, Any], caller: int
) -> None:
    got = []
    for method, path, kwargs in endpoints(world):
        response = await client.request(method, path, headers=auth(caller), **kwargs)
        assert response.status_code < 500, (method, path, response.text)
        got.append(response.status_code)
        if response.status_code in (403, 404):
            assert response.json()["success"] is False
    labels = [f"{m} {p}" for m, p, _ in endpoints(world)]
    assert dict(zip(labels, got, strict=True)) == dict(zip(labels, EXPECTED[caller], strict=True))


async def test_lists_show_only_what_the_caller_may_read(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    a, b, plants = world["a"], world["b"], world["plants"]

    async def ids(path: str, caller: int, key: str = "id") -> list[int]:
        response = await client.get(path, headers=auth(caller))
        assert response.status_code == 200, response.text
        return [item[key] for item in response.json()["data"]]

    assert await ids("/api/cer/", MEMBER_A) == [a]
    assert await ids("/api/cer/", MEMBER_B) == [b]
    assert await ids("/api/plants/", MEMBER_A) == [plants[MEMBER_A]]
    assert await ids("/api/plants/", VIEWER_A) == [plants[MEMBER_A], plants[OTHER_MEMBER_A]]
    assert await ids("/api/plants/", ADMIN_B) == [plants[MEMBER_B]]
    assert await ids(f"/api/cer/{a}/members/", MEMBER_A, "user_id") == [MEMBER_A]
    viewer_sees = (await client.get(f"/api/cer/{a}/members/", headers=auth(VIEWER_A))).json()
    assert [m["user_id"] for m in viewer_sees["data"]] == [
        ADMIN_A,
        MEMBER_A,
        VIEWER_A,
        OTHER_MEMBER_A,
    ]
    assert [m["user_id"] for m in viewer_sees["data"] if not m["personal_data_masked"]] == [
        VIEWER_A
    ]
    # Platform administrators see every community and may read any audit trail.
    everything = await client.get("/api/cer/?per_page=100", headers=PLATFORM_ADMIN)
    assert {a, b} <= {c["id"] for c in everything.json()["data"]}
    audit = await client.get(f"/api/cer/{a}/audit/", headers=PLATFORM_ADMIN)
    assert audit.status_code == 200 and audit.json()["meta"]["total"] >= 7


async def test_community_admin_manages_only_their_community(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    a = world["a"]
    for method, path, kwargs in endpoints(world):
        if method == "DELETE" and path == f"/api/cer/{a}/":
            expected = 403  # only a platform administrator deactivates
        elif method == "POST" and path == f"/api/cer/{a}/members/":
            expected = 403  # a community's admin invites; only the platform adds directly
        elif method == "POST" and "/invitations/" in path:
            expected = 202
        elif method == "DELETE" and "/members/" in path:
            continue  # ends marco's period, after which his plant is gone: checked below
        else:
            expected = 201 if method == "POST" else 200
        response = await client.request(method, path, headers=auth(ADMIN_A), **kwargs)
        assert response.status_code == expected, (method, path, response.text)
    ended = await client.delete(f"/api/cer/{a}/members/{OTHER_MEMBER_A}/", headers=auth(ADMIN_A))
    assert ended.status_code == 200
