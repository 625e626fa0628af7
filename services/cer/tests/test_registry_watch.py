"""The registry watch (registry_watch.py) against committed data: stamps are
remembered between requests and forgotten when PostgreSQL announces a change
(by hand in SQL, here), when this process answers a write, and whenever the
listening connection is lost. The other CER tests run inside rolled-back
transactions, which never commit and so never notify; these commit, in a
database of their own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date

import asyncpg
import httpx
import pytest
from cer_service.registry_watch import RegistryWatch
from cer_service.settings import CerSettings
from fastapi import FastAPI

from .conftest import (
    Users,
    add_member,
    auth,
    new_community,
    plant_body,
    running_app,
    settings_for,
)

ADMIN, ANNA = 60, 61


@pytest.fixture(scope="session")
def watched_settings(tmp_path_factory: pytest.TempPathFactory) -> CerSettings:
    return settings_for("cerc_test_cer_watch", tmp_path_factory.mktemp("watched-documents"))


@pytest.fixture(scope="session")
async def watched_app(watched_settings: CerSettings) -> AsyncIterator[FastAPI]:
    async with running_app(watched_settings) as application:
        yield application


@pytest.fixture
async def http(watched_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=watched_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cer") as client:
        yield client


@pytest.fixture
async def by_hand(watched_settings: CerSettings) -> AsyncIterator[asyncpg.Connection]:
    """Another connection, as an operator's psql would be: each statement commits."""
    connection = await asyncpg.connect(
        watched_settings.database_dsn, server_settings={"search_path": "cer"}
    )
    yield connection
    await connection.close()


def watch_of(app: FastAPI) -> RegistryWatch:
    watch: RegistryWatch | None = app.state.cer_context.watch
    assert watch is not None
    return watch


async def until(condition: Callable[[], bool], what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.02)


_codes = iter(range(1, 10_000))


@pytest.fixture
async def community(watched_app: FastAPI, http: httpx.AsyncClient) -> int:
    """A committed community with ANNA as a MEMBER (a fresh one for each test)."""
    await until(lambda: watch_of(watched_app).listening, "the watch listening")
    users = Users(watched_app.state.sessionmaker)
    for user_id, name in ((ADMIN, "watch-admin"), (ANNA, "watch-anna")):
        await users.register(user_id, name)
    cer_id: int = (await new_community(http, ADMIN, f"CER-WATCH-{next(_codes)}"))["id"]
    await add_member(http, cer_id, ADMIN, "watch-anna")
    return cer_id


async def end_membership_by_hand(
    by_hand: asyncpg.Connection, community_id: int, user_id: int
) -> None:
    """In SQL: no service code runs, only PostgreSQL can tell the watch."""
    ended = await by_hand.execute(
        "UPDATE memberships SET valid_to = current_date WHERE community_id = $1 AND user_id = $2",
        community_id,
        user_id,
    )
    assert ended == "UPDATE 1"


async def summary(http: httpx.AsyncClient, cer_id: int, user_id: int) -> int:
    return (await http.get(f"/api/cer/{cer_id}/", headers=auth(user_id))).status_code


async def test_a_change_made_by_hand_is_seen_once_announced(
    watched_app: FastAPI,
    http: httpx.AsyncClient,
    by_hand: asyncpg.Connection,
    community: int,
) -> None:
    watch = watch_of(watched_app)
    assert await summary(http, community, ANNA) == 200
    hits = watch.hits
    assert await summary(http, community, ANNA) == 200
    assert watch.hits > hits, "the second read's stamp came from memory"

    await end_membership_by_hand(by_hand, community, ANNA)
    await until(lambda: not watch.knows(community), "the change announced")
    assert await summary(http, community, ANNA) == 404


async def test_a_plant_list_across_communities_follows_a_change_made_by_hand(
    watched_app: FastAPI,
    http: httpx.AsyncClient,
    by_hand: asyncpg.Connection,
    community: int,
) -> None:
    """The view (the caller's communities, versions and roles) of a list
    without ``cer_id`` is remembered, and forgotten on any notification."""
    watch = watch_of(watched_app)
    created = await http.post(
        "/api/plants/",
        json=plant_body(community, ANNA, pod=f"IT001E{community:08d}"),
        headers=auth(ADMIN),
    )
    assert created.status_code == 201, created.text

    async def total() -> int:
        page = await http.get("/api/plants/", headers=auth(ANNA))
        assert page.status_code == 200, page.text
        return int(page.json()["meta"]["total"])

    assert await total() == 1
    hits = watch.hits
    assert await total() == 1
    assert watch.hits > hits, "the second read's view came from memory"

    epoch = watch.epoch
    await end_membership_by_hand(by_hand, community, ANNA)
    await until(lambda: watch.epoch != epoch, "the change announced")
    assert await total() == 0


async def test_a_write_answered_here_is_seen_by_the_next_read_without_the_notice(
    watched_app: FastAPI,
    http: httpx.AsyncClient,
    community: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watch = watch_of(watched_app)
    assert await summary(http, community, ANNA) == 200
    assert await summary(http, community, ANNA) == 200
    assert watch.knows(community)
    # Notifications arrive but are not acted on: only the write's own answer
    # can make the watch forget.
    monkeypatch.setattr(watch, "forget", lambda community_id: None)

    removed = await http.delete(f"/api/cer/{community}/members/{ANNA}/", headers=auth(ADMIN))
    assert removed.status_code == 200, removed.text
    assert await summary(http, community, ANNA) == 404


async def test_nothing_is_remembered_while_the_listener_is_down(
    watched_app: FastAPI,
    http: httpx.AsyncClient,
    by_hand: asyncpg.Connection,
    community: int,
) -> None:
    watch = watch_of(watched_app)
    assert await summary(http, community, ANNA) == 200
    assert watch.knows(community)
    listener_pid = watch.server_pid()
    assert listener_pid is not None
    assert await by_hand.fetchval("SELECT pg_terminate_backend($1)", listener_pid)
    await until(lambda: not watch.listening, "the lost listener noticed")
    assert watch.remembered == 0
    assert "cer_registry_watch_listening 0.0" in (await http.get("/metrics")).text

    # While deaf, nothing is kept, and a change made meanwhile is seen at once.
    misses = watch.misses
    assert await summary(http, community, ANNA) == 200
    assert await summary(http, community, ANNA) == 200
    assert watch.misses == misses + 2
    assert not watch.knows(community)
    await end_membership_by_hand(by_hand, community, ANNA)
    assert await summary(http, community, ANNA) == 404

    # Back: it listens again (a new connection) and remembers again.
    await until(lambda: watch.listening, "the listener back")
    assert watch.server_pid() != listener_pid
    assert "cer_registry_watch_listening 1.0" in (await http.get("/metrics")).text
    assert await summary(http, community, ADMIN) == 200
    assert watch.knows(community)


class _ChangedWhileReading:
    """A ReadPool whose connection, once the stamp query has returned and
    before the watch sees the answer, lets somebody commit a change."""

    def __init__(self, pool: asyncpg.Pool, meanwhile: Callable[[], Awaitable[None]]) -> None:
        self._pool = pool
        self._meanwhile = meanwhile

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._pool.acquire() as connection:
            yield connection
        await self._meanwhile()


async def test_a_stamp_read_before_a_change_is_not_kept_after_it(
    watched_app: FastAPI,
    watched_settings: CerSettings,
    by_hand: asyncpg.Connection,
    community: int,
) -> None:
    racing: RegistryWatch

    async def change_and_wait_for_the_notice() -> None:
        epoch = racing.epoch
        await by_hand.execute(
            "UPDATE communities SET description = 'cambiata' WHERE id = $1", community
        )
        await until(lambda: racing.epoch != epoch, "the change announced")

    pool = _ChangedWhileReading(watched_app.state.read_pool, change_and_wait_for_the_notice)
    racing = RegistryWatch(watched_settings.database_dsn, pool, retry_s=0.1)
    racing.start()
    try:
        await until(lambda: racing.listening, "the racing watch listening")
        before = await by_hand.fetchval(
            "SELECT registry_version FROM communities WHERE id = $1", community
        )
        stamp = await racing.stamp(community, ANNA, date.today())
        assert stamp is not None and stamp.registry_version == before
        assert not racing.knows(community), "a stamp older than an announced change was kept"
        assert (
            await by_hand.fetchval(
                "SELECT registry_version FROM communities WHERE id = $1", community
            )
            != before
        )
    finally:
        await racing.stop()
