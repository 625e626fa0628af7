"""A CER manager's first day, through Envoy as a browser would: create the
community, invite members, register plants, upload the statute, read the
summary; and nobody sees a community that is not theirs."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from .conftest import Fleet, bearer, register_and_login

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TAX_CODE = "RSSMRA85T10A562S"
VAT_NUMBER = "00743110157"
IBAN = "IT60X0542811101000000123456"


def run_id() -> str:
    # user.v1 is shared by every fleet on this broker: names unique per run.
    return uuid.uuid4().hex[:8]


def call(
    fleet: Fleet, method: str, path: str, tokens: dict[str, str], **kwargs: Any
) -> httpx.Response:
    return httpx.request(method, f"{fleet.gateway}{path}", headers=bearer(tokens), **kwargs)


def invite(
    fleet: Fleet,
    admin: dict[str, str],
    cid: int,
    username: str,
    person: dict[str, str],
    timeout_s: float = 30,
    **facts: Any,
) -> dict[str, Any]:
    """The manager invites the person's e-mail, the person (signed in) accepts
    with their own facts. The CER service learns of new users from user.v1, so
    the invitation may take a moment to show among theirs."""
    terms = {"role": "MEMBER", "member_type": "PRIVATE", "joined_on": "2025-01-01"}
    own = {"tax_code": TAX_CODE, "iban": IBAN}
    for key, value in facts.items():
        (own if key in ("tax_code", "vat_number", "iban") else terms)[key] = value
    sent = call(fleet, "POST", f"/api/cer/{cid}/invitations/", admin,
                json={"email": f"{username}@example.it", **terms})  # fmt: skip
    assert sent.status_code == 202, sent.text
    invitation_id = sent.json()["data"]["invitation_id"]
    deadline = time.monotonic() + timeout_s
    while True:
        mine = call(fleet, "GET", "/api/cer/invitations/mine/", person)
        assert mine.status_code == 200, mine.text
        if invitation_id in [i["invitation_id"] for i in mine.json()["data"]]:
            break
        assert time.monotonic() < deadline, "the invitation never reached its addressee"
        time.sleep(0.3)
    accepted = call(fleet, "POST", f"/api/cer/invitations/{invitation_id}/accept/", person,
                    json={k: v for k, v in own.items() if v is not None})  # fmt: skip
    assert accepted.status_code == 201, accepted.text
    data: dict[str, Any] = accepted.json()["data"]
    return data


def plant(cid: int, owner: int, pod: str, kind: str, substation: str, power: str) -> dict[str, Any]:
    producing = kind != "CONSUMER"
    return {
        "cer_id": cid, "owner_user_id": owner, "name": f"Impianto {pod[-4:]}", "pod": pod,
        "plant_type": kind, "nominal_power_kw": power,
        "technology": "PV" if producing else None,
        "entry_into_service": "2024-05-01" if producing else None,
        "address": "Via Garibaldi 3", "city": "Bergamo", "province": "BG",
        "region": "Lombardia", "zip_code": "24121", "primary_substation": substation,
        "market_zone": "NORD", "connection_voltage": "BT", "valid_from": "2025-01-01",
    }  # fmt: skip


def new_community(fleet: Fleet, admin: dict[str, str], code: str) -> int:
    shares = {"producers_pct": "50", "consumers_pct": "40", "community_fund_pct": "10",
              "valid_from": "2025-01-01"}  # fmt: skip
    body = {"name": f"CER {code}", "code": code, "market_zone": "NORD",
            "distribution_shares": shares}  # fmt: skip
    response = call(fleet, "POST", "/api/cer/", admin, json=body)
    assert response.status_code == 201, response.text
    cid: int = response.json()["data"]["id"]
    return cid


def test_a_manager_builds_a_community_end_to_end(fleet: Fleet) -> None:
    run = run_id()
    manager = register_and_login(fleet, f"mgr-{run}")
    names = {"anna": f"anna-{run}", "bruno": f"bruno-{run}", "comune": f"comune-{run}"}
    people = {k: register_and_login(fleet, v) for k, v in names.items()}

    cid = new_community(fleet, manager, f"E2E-{run}".upper())
    anna = invite(fleet, manager, cid, names["anna"], people["anna"])
    bruno = invite(fleet, manager, cid, names["bruno"], people["bruno"])
    comune = invite(fleet, manager, cid, names["comune"], people["comune"],
                    member_type="ENTERPRISE", body_type="LOCAL_AUTHORITY", tax_code=None,
                    vat_number=VAT_NUMBER)  # fmt: skip
    # A community's manager no longer adds anyone directly.
    direct = call(fleet, "POST", f"/api/cer/{cid}/members/", manager,
                  json={"username": names["anna"], "role": "VIEWER"})  # fmt: skip
    assert direct.status_code == 403, direct.text
    assert comune["body_type"] == "LOCAL_AUTHORITY" and comune["vat_number"] == VAT_NUMBER

    plants = [
        # The consumer first: a producer alone under a substation earns a warning.
        plant(cid, bruno["user_id"], "IT001E10000002", "CONSUMER", "AC001E00001", "6"),
        plant(cid, anna["user_id"], "IT001E10000001", "PRODUCER", "AC001E00001", "19.5"),
        plant(cid, comune["user_id"], "IT001E10000003", "PROSUMER", "AC001E00002", "45.25"),
        plant(cid, anna["user_id"], "IT001E10000004", "PRODUCER", "AC001E00002", "100"),
    ]
    for body in plants:
        created = call(fleet, "POST", "/api/plants/", manager, json=body)
        assert created.status_code == 201, created.text
        assert created.json()["data"]["warnings"] == []

    statute = httpx.put(
        f"{fleet.gateway}/api/cer/{cid}/documents/statute/",
        headers=bearer(manager),
        files={"file": ("statuto.pdf", PDF, "application/pdf")},
    )
    assert statute.status_code == 200, statute.text
    fetched = call(fleet, "GET", f"/api/cer/{cid}/documents/statute/", people["bruno"])
    assert fetched.status_code == 200 and fetched.content == PDF

    summary = call(fleet, "GET", f"/api/cer/{cid}/", people["anna"])
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert body["success"] is True and body["errors"] == []
    data = body["data"]
    assert data["members_count"] == 4 and data["plants_count"] == 4
    assert data["total_power"] == "164.75"
    assert [(s["primary_substation"], s["plants_count"], s["total_power"])
            for s in data["power_by_substation"]] == [
        ("AC001E00001", 2, "19.50"), ("AC001E00002", 2, "145.25"),
    ]  # fmt: skip
    assert data["documents"]["statute"] is True and data["my_role"] == "MEMBER"

    # Members see their own plants; the list has the specification's meta.
    mine = call(fleet, "GET", "/api/plants/?sort=pod", people["anna"])
    assert [p["pod"] for p in mine.json()["data"]] == ["IT001E10000001", "IT001E10000004"]
    assert mine.json()["meta"] == {"page": 1, "per_page": 20, "total": 2}
    everyone = call(fleet, "GET", f"/api/cer/{cid}/members/?per_page=2", manager).json()
    assert everyone["meta"] == {"page": 1, "per_page": 2, "total": 4}
    audit = call(fleet, "GET", f"/api/cer/{cid}/audit/", manager)
    assert audit.status_code == 200 and audit.json()["meta"]["total"] >= 10
    assert call(fleet, "GET", f"/api/cer/{cid}/audit/", people["anna"]).status_code == 403


def test_roles_and_isolation_through_the_gateway(fleet: Fleet) -> None:
    run = run_id()
    admin_a = register_and_login(fleet, f"adm-a-{run}")
    admin_b = register_and_login(fleet, f"adm-b-{run}")
    viewer = register_and_login(fleet, f"view-{run}")
    member_b = register_and_login(fleet, f"mem-b-{run}")
    a = new_community(fleet, admin_a, f"ISO-A-{run}".upper())
    b = new_community(fleet, admin_b, f"ISO-B-{run}".upper())
    invite(fleet, admin_a, a, f"view-{run}", viewer, role="VIEWER", tax_code=None, iban=None)
    bm = invite(fleet, admin_b, b, f"mem-b-{run}", member_b)
    body = plant(b, bm["user_id"], "IT002E20000001", "CONSUMER", "AC001E00003", "3")
    created = call(fleet, "POST", "/api/plants/", admin_b, json=body)
    assert created.status_code == 201, created.text
    plant_b = created.json()["data"]["id"]

    # Community B's resources do not exist for A's users, lists included.
    for tokens in (admin_a, viewer):
        for method, path in [
            ("GET", f"/api/cer/{b}/"), ("PUT", f"/api/cer/{b}/"), ("GET", f"/api/cer/{b}/members/"),
            ("GET", f"/api/cer/{b}/audit/"), ("GET", f"/api/cer/{b}/shares/"),
            ("GET", f"/api/cer/{b}/invitations/"),
            ("GET", f"/api/plants/?cer_id={b}"), ("GET", f"/api/plants/{plant_b}/"),
            ("DELETE", f"/api/plants/{plant_b}/"),
        ]:  # fmt: skip
            response = call(fleet, method, path, tokens, json={} if method == "PUT" else None)
            assert response.status_code == 404, (method, path, response.text)
        listed = call(fleet, "GET", "/api/plants/", tokens).json()["data"]
        assert plant_b not in [p["id"] for p in listed]
        assert b not in [c["id"] for c in call(fleet, "GET", "/api/cer/", tokens).json()["data"]]

    # A VIEWER reads but changes nothing; a MEMBER of B cannot touch A.
    assert call(fleet, "GET", f"/api/cer/{a}/members/", viewer).status_code == 200
    assert call(fleet, "PUT", f"/api/cer/{a}/", viewer, json={"name": "x"}).status_code == 403
    assert call(fleet, "POST", f"/api/cer/{a}/shares/", viewer,
                json={"producers_pct": "1", "consumers_pct": "1",
                      "community_fund_pct": "98"}).status_code == 403  # fmt: skip
    assert call(fleet, "GET", f"/api/cer/{a}/", member_b).status_code == 404
    # Only a platform administrator deactivates a community.
    assert call(fleet, "DELETE", f"/api/cer/{a}/", admin_a).status_code == 403
    # No token: Envoy refuses before the service is asked.
    assert httpx.get(f"{fleet.gateway}/api/cer/").status_code == 401


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("pod", "IT001E123", "validation_error"),
        ("market_zone", "SICI", "zone_mismatch"),
        ("primary_substation", "??", "validation_error"),
    ],
)
def test_bad_plant_through_the_gateway(fleet: Fleet, field: str, value: str, code: str) -> None:
    run = run_id()
    admin = register_and_login(fleet, f"bad-{run}")
    cid = new_community(fleet, admin, f"BAD-{run}".upper())
    me = call(fleet, "GET", f"/api/cer/{cid}/members/", admin).json()["data"][0]["user_id"]
    body = plant(cid, me, "IT001E30000001", "CONSUMER", "AC001E00001", "3") | {field: value}
    response = call(fleet, "POST", "/api/plants/", admin, json=body)
    assert response.status_code == 422, response.text
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(field, code)]
    assert call(fleet, "GET", f"/api/plants/?cer_id={cid}", admin).json()["meta"]["total"] == 0
