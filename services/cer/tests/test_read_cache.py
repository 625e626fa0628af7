"""The hot reads' cache (read_cache.py): every write moves the community's
registry version in the database, whoever makes it; a cached answer is never
served for a newer registry, never to someone who lost access, and a member's
page is never another member's."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cer_service.read_cache import ReadCache
from cerc_shared.events import EventEnvelope
from cerc_shared.events.user import UserStatusChanged
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import Users, add_member, auth, new_community, plant_body

ADMIN, ANNA, MARCO = 40, 41, 42


async def version(maker: async_sessionmaker[AsyncSession], cer_id: int) -> int:
    async with maker() as session:
        found = await session.scalar(
            text("SELECT registry_version FROM communities WHERE id = :id"), {"id": cer_id}
        )
    assert found is not None
    return int(found)


@pytest.fixture
async def cer(client: httpx.AsyncClient, users: Users) -> int:
    await users.register(ANNA, "anna")
    await users.register(MARCO, "marco")
    cer_id: int = (await new_community(client, ADMIN, "CER-CACHE"))["id"]
    await add_member(client, cer_id, ADMIN, "anna")
    await add_member(client, cer_id, ADMIN, "marco")
    for owner, pod in ((ANNA, "IT001E00000101"), (MARCO, "IT001E00000102")):
        created = await client.post(
            "/api/plants/", json=plant_body(cer_id, owner, pod=pod), headers=auth(ADMIN)
        )
        assert created.status_code == 201, created.text
    return cer_id


def reads(app: FastAPI) -> ReadCache:
    cache: ReadCache = app.state.cer_context.reads
    return cache


async def test_every_kind_of_write_moves_the_registry_version(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], cer: int
) -> None:
    plant_id = (await client.get(f"/api/plants/?cer_id={cer}", headers=auth(ADMIN))).json()["data"][
        0
    ]["id"]
    writes: list[tuple[str, str, dict[str, Any]]] = [
        ("PUT", f"/api/cer/{cer}/", {"json": {"description": "nuova descrizione"}}),
        ("POST", f"/api/cer/{cer}/shares/",
         {"json": {"producers_pct": "50", "consumers_pct": "40", "community_fund_pct": "10",
                   "valid_from": "2030-01-01"}}),
        ("PUT", f"/api/cer/{cer}/members/{MARCO}/", {"json": {"role": "VIEWER"}}),
        ("PUT", f"/api/plants/{plant_id}/", {"json": {"name": "Tetto nuovo"}}),
        ("DELETE", f"/api/plants/{plant_id}/", {}),
        ("DELETE", f"/api/cer/{cer}/members/{MARCO}/", {}),
    ]  # fmt: skip
    seen = [await version(sessionmaker, cer)]
    for method, path, kwargs in writes:
        response = await client.request(method, path, headers=auth(ADMIN), **kwargs)
        assert response.status_code < 300, (method, path, response.text)
        seen.append(await version(sessionmaker, cer))
        assert seen[-1] > seen[-2], (method, path)


async def test_a_rolled_back_write_never_lends_its_version_to_another(
    sessionmaker: async_sessionmaker[AsyncSession], cer: int
) -> None:
    before = await version(sessionmaker, cer)
    async with sessionmaker() as session:
        nested = await session.begin_nested()
        await session.execute(
            text("UPDATE plants SET name = 'x' WHERE community_id = :c"), {"c": cer}
        )
        rolled_back = await session.scalar(
            text("SELECT registry_version FROM communities WHERE id = :c"), {"c": cer}
        )
        await nested.rollback()
        assert await version(sessionmaker, cer) == before
        await session.execute(
            text("UPDATE plants SET name = 'y' WHERE community_id = :c"), {"c": cer}
        )
        after = await session.scalar(
            text("SELECT registry_version FROM communities WHERE id = :c"), {"c": cer}
        )
    assert rolled_back is not None and after is not None
    assert len({before, int(rolled_back), int(after)}) == 3


async def test_the_summary_follows_a_write_made_outside_the_service(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    cer: int,
) -> None:
    first = (await client.get(f"/api/cer/{cer}/", headers=auth(ADMIN))).json()["data"]
    hits = reads(app).hits
    again = (await client.get(f"/api/cer/{cer}/", headers=auth(ADMIN))).json()["data"]
    assert again == first
    assert reads(app).hits == hits + 1  # the second answer came from the cache
    async with sessionmaker() as session:
        await session.execute(
            text("UPDATE plants SET nominal_power_kw = nominal_power_kw + 100 WHERE pod = :p"),
            {"p": "IT001E00000101"},
        )
        await session.commit()
    now = (await client.get(f"/api/cer/{cer}/", headers=auth(ADMIN))).json()["data"]
    assert float(now["total_power"]) == pytest.approx(float(first["total_power"]) + 100)


async def test_a_member_who_leaves_loses_what_was_cached_for_them(
    client: httpx.AsyncClient, cer: int
) -> None:
    for path in (f"/api/cer/{cer}/", f"/api/plants/?cer_id={cer}"):
        assert (await client.get(path, headers=auth(MARCO))).status_code == 200
    removed = await client.delete(f"/api/cer/{cer}/members/{MARCO}/", headers=auth(ADMIN))
    assert removed.status_code == 200, removed.text
    for path in (f"/api/cer/{cer}/", f"/api/plants/?cer_id={cer}"):
        assert (await client.get(path, headers=auth(MARCO))).status_code == 404


async def test_each_member_gets_their_own_page_and_role(
    client: httpx.AsyncClient, cer: int
) -> None:
    path = f"/api/plants/?cer_id={cer}&sort=pod"

    async def pods(user_id: int) -> list[str]:
        body = (await client.get(path, headers=auth(user_id))).json()
        assert body["meta"]["total"] == len(body["data"])
        return [p["pod"] for p in body["data"]]

    assert await pods(ANNA) == ["IT001E00000101"]
    assert await pods(MARCO) == ["IT001E00000102"]
    assert await pods(ADMIN) == ["IT001E00000101", "IT001E00000102"]
    roles = [
        (await client.get(f"/api/cer/{cer}/", headers=auth(u))).json()["data"]["my_role"]
        for u in (ADMIN, ANNA)
    ]
    assert roles == ["ADMIN", "MEMBER"]


def test_the_cache_is_bounded_in_bytes_and_drops_the_least_recently_used() -> None:
    cache = ReadCache(max_bytes=10)
    cache.put("a", b"1234")
    cache.put("b", b"1234")
    assert cache.get("a") == b"1234"  # "a" is now the most recently used
    cache.put("c", b"1234")  # 12 bytes: "b" goes
    assert cache.get("b") is None
    assert cache.get("a") == b"1234" and cache.get("c") == b"1234"
    cache.put("huge", b"x" * 11)  # larger than the whole cache: not kept, nothing evicted
    assert cache.get("huge") is None and cache.get("a") is not None
    off = ReadCache(max_bytes=0)
    off.put("a", b"1")
    assert off.get("a") is None


async def test_a_cached_answer_still_checks_who_is_asking(
    app: FastAPI, client: httpx.AsyncClient, users: Users, cer: int
) -> None:
    """Answers served before routing (api/cached.py) refuse what the endpoint refuses."""
    stranger = 43
    await users.register(stranger, "estraneo")
    await new_community(client, stranger, "CER-ALTRA")
    paths = [f"/api/cer/{cer}/", f"/api/plants/?cer_id={cer}&sort=-id"]
    for path in paths:
        first = await client.get(path, headers=auth(ADMIN))
        hits = reads(app).hits
        again = await client.get(path, headers=auth(ADMIN))
        assert reads(app).hits == hits + 1
        assert again.content == first.content
        assert again.headers["content-type"] == "application/json"

        token = auth(ADMIN)["Authorization"]
        tampered = {"Authorization": token[:-3] + ("abc" if not token.endswith("abc") else "xyz")}
        assert (await client.get(path, headers=tampered)).status_code == 401
        assert (await client.get(path)).status_code == 401
        refused = await client.get(path, headers=auth(stranger))
        assert refused.status_code == 404
        assert refused.json()["errors"][0]["code"] == "not_found"

    # The administrator's account deactivated (user-status.v1, as the kernel's cache
    # hears of it): their still-valid token gets the endpoint's 401, not the kept body.
    headers = auth(ADMIN)
    status = app.state.user_status

    def changed(active: bool) -> EventEnvelope:
        event = UserStatusChanged(user_id=ADMIN, is_active=active)
        return EventEnvelope.wrap(event, producer="user", correlation_id=None)

    status.apply(changed(False))
    try:
        for path in paths:
            refused = await client.get(path, headers=headers)
            assert refused.status_code == 401, path
            assert "deactivated" in refused.json()["errors"][0]["message"]
    finally:
        status.apply(changed(True))


async def test_a_plant_list_across_communities_is_kept_per_view(
    app: FastAPI, client: httpx.AsyncClient, users: Users, cer: int
) -> None:
    """Without ``cer_id`` a page depends on the caller's communities, their
    versions and the caller's roles (a view): kept while none of them moves,
    each MEMBER's page their own."""
    path = "/api/plants/?sort=pod"

    async def pods(user_id: int) -> list[str]:
        body = (await client.get(path, headers=auth(user_id))).json()
        assert body["meta"]["total"] == len(body["data"])
        return [p["pod"] for p in body["data"]]

    assert await pods(ADMIN) == ["IT001E00000101", "IT001E00000102"]
    hits = reads(app).hits
    first = await client.get(path, headers=auth(ADMIN))
    again = await client.get(path, headers=auth(ADMIN))
    assert reads(app).hits == hits + 2  # answered from the cache
    assert again.content == first.content
    assert await pods(ANNA) == ["IT001E00000101"]
    assert await pods(MARCO) == ["IT001E00000102"]

    # A new plant moves the community's version: the manager's next page has it.
    added = await client.post(
        "/api/plants/", json=plant_body(cer, ANNA, pod="IT001E00000103"), headers=auth(ADMIN)
    )
    assert added.status_code == 201, added.text
    assert await pods(ADMIN) == ["IT001E00000101", "IT001E00000102", "IT001E00000103"]
    assert await pods(ANNA) == ["IT001E00000101", "IT001E00000103"]

    # A community the caller joins since: their plants there join their page.
    other: int = (await new_community(client, MARCO, "CER-CACHE-2"))["id"]
    await add_member(client, other, MARCO, "anna")
    created = await client.post(
        "/api/plants/", json=plant_body(other, ANNA, pod="IT001E00000201"), headers=auth(MARCO)
    )
    assert created.status_code == 201, created.text
    assert await pods(ANNA) == ["IT001E00000101", "IT001E00000103", "IT001E00000201"]
    assert await pods(MARCO) == ["IT001E00000102", "IT001E00000201"]
    assert await pods(ADMIN) == ["IT001E00000101", "IT001E00000102", "IT001E00000103"]

    # And one the caller leaves: its plants go, the cached page is not served.
    removed = await client.delete(f"/api/cer/{cer}/members/{MARCO}/", headers=auth(ADMIN))
    assert removed.status_code == 200, removed.text
    assert await pods(MARCO) == ["IT001E00000201"]
    stranger = 44
    await users.register(stranger, "nessuno")
    assert await pods(stranger) == []
