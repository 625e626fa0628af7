"""The async database session lifecycle.

Each service has one schema and one login role; its engine pins
``search_path`` to that schema so models and migrations use unqualified names.
A request gets one session that commits when the endpoint returns and rolls
back when it raises; domain code never calls ``commit()``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, Protocol

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import MetaData, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import Pool

from cerc_shared.envelope import ApiError
from cerc_shared.settings import ServiceSettings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata() -> MetaData:
    """A service's own metadata, its constraints named alike in every service.

    Each service declares its base on it (a registry of its own, as two
    services may both have a ``plants`` table when their tests share a process)::

        class Base(DeclarativeBase):
            metadata = service_metadata()
    """
    return MetaData(naming_convention=NAMING_CONVENTION)


# A pooled connection used less than this long ago is taken as alive without asking.
PING_AFTER_IDLE_S = 5.0


def create_engine(
    settings: ServiceSettings,
    *,
    pre_ping: bool = True,
    server_settings: Mapping[str, str] | None = None,
) -> AsyncEngine:
    """The service's engine, its connections in its own schema. ``pre_ping``
    checks a connection idle for ``PING_AFTER_IDLE_S`` before it is handed out
    (:func:`ping_when_idle`); a hot loop that survives a failed statement anyway
    may leave it off. ``server_settings`` are further settings of every connection."""
    session_settings = dict(server_settings or {})
    if settings.database_schema:
        session_settings["search_path"] = settings.database_schema
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        connect_args={"server_settings": session_settings} if session_settings else {},
    )
    if pre_ping:
        ping_when_idle(engine.sync_engine.pool, PING_AFTER_IDLE_S)
    return engine


def ping_when_idle(pool: Pool, idle_s: float) -> None:
    """Check a pooled connection before handing it out, but only one idle ``idle_s`` or more.

    SQLAlchemy's ``pool_pre_ping`` asks on every checkout, and with asyncpg its ping is three
    round trips (BEGIN, an empty statement, ROLLBACK): more than the one query of a dashboard
    read. A connection handed back a moment ago is as alive as it was then; one idle long
    enough for PostgreSQL, a proxy or a restart to have closed it is asked first, and a dead
    one is replaced before anyone sees it (the pool retries on DisconnectionError)."""

    @event.listens_for(pool, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["cerc_checked_in_at"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        checked_in_at = record.info.get("cerc_checked_in_at")
        # A connection just opened has no check-in yet: it was tested by connecting.
        if checked_in_at is None or time.monotonic() - checked_in_at < idle_s:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError(f"pooled connection found dead: {exc}") from exc


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class ReadPool(Protocol):
    """Where a hot read gets a bare asyncpg connection: no ORM, no transaction,
    one statement, one round trip (see create_read_pool)."""

    def acquire(self) -> AbstractAsyncContextManager[asyncpg.Connection]: ...


async def _no_reset(connection: asyncpg.Connection) -> None:
    """Read connections run single SELECTs and leave no session state behind,
    so returning one to the pool needs no RESET ALL round trip."""


async def create_read_pool(settings: ServiceSettings) -> asyncpg.Pool:
    """A small asyncpg pool beside the engine, for reads on the hot path
    (a summary, a cached page's version check) where the ORM session's own
    work (checkout ping, BEGIN, COMMIT) would cost more than the query."""
    kwargs: dict[str, Any] = {}
    if settings.database_schema:
        kwargs["server_settings"] = {"search_path": settings.database_schema}
    pool: asyncpg.Pool = await asyncpg.create_pool(
        settings.database_dsn,
        min_size=1,
        max_size=settings.database_pool_size,
        reset=_no_reset,
        **kwargs,
    )
    return pool


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except ApiError as exc:
            await (session.commit() if exc.keep_changes else session.rollback())
            raise
        except BaseException:
            await session.rollback()
            raise


# scope="function": the commit happens before the response is sent, so a
# failed commit becomes an error response rather than a lost write.
DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]


async def _read_pool(request: Request) -> ReadPool:
    pool: ReadPool = request.app.state.read_pool
    return pool


ReadConnections = Annotated[ReadPool, Depends(_read_pool)]
