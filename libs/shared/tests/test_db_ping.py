"""The pool's liveness check on real PostgreSQL: a connection handed back a moment ago is reused
without a ping (asyncpg's ping is three round trips), one idle past the window is pinged and,
found dead (its backend terminated, as by a restart), replaced before a query sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cerc_shared.db import ping_when_idle
from cerc_shared.testing import bootstrap_database, service_dsn
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def database() -> str:
    bootstrap_database("cerc_test_dbping")
    return service_dsn("reporting", "cerc_test_dbping")


@pytest.fixture
async def engines(database: str) -> AsyncIterator[list[AsyncEngine]]:
    made: list[AsyncEngine] = []
    yield made
    for engine in made:
        await engine.dispose()


def engine_of(database: str, engines: list[AsyncEngine], idle_s: float) -> AsyncEngine:
    engine = create_async_engine(database, pool_size=1, max_overflow=0)
    ping_when_idle(engine.sync_engine.pool, idle_s)
    engines.append(engine)
    return engine


async def backend_of(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def terminate(database: str, pid: int) -> None:
    killer = create_async_engine(database)
    try:
        async with killer.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await killer.dispose()


async def test_a_connection_reused_within_the_window_is_not_pinged(
    database: str, engines: list[AsyncEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[object] = []
    original = AsyncAdapt_asyncpg_connection.ping

    def counted(self: AsyncAdapt_asyncpg_connection) -> None:
        pings.append(self)
        original(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counted)
    warm = engine_of(database, engines, idle_s=3600)
    assert len({await backend_of(warm) for _ in range(10)}) == 1  # one pooled connection
    assert pings == []
    eager = engine_of(database, engines, idle_s=0)
    for _ in range(10):
        await backend_of(eager)
    assert len(pings) == 9  # every checkout after the first connect


async def test_a_dead_idle_connection_is_replaced_before_a_query_sees_it(
    database: str, engines: list[AsyncEngine]
) -> None:
    checked = engine_of(database, engines, idle_s=0)
    first = await backend_of(checked)
    await terminate(database, first)
    assert await backend_of(checked) != first  # pinged, found dead, replaced

    # Without the check (a window longer than the idle time), the query meets the dead one.
    trusting = engine_of(database, engines, idle_s=3600)
    pid = await backend_of(trusting)
    await terminate(database, pid)
    with pytest.raises(DBAPIError):
        await backend_of(trusting)
