"""The async database session lifecycle.

Each service has one schema and one login role; its engine pins
``search_path`` to that schema so models and migrations use unqualified names.
A request gets one session that commits when the endpoint returns and rolls
back when it raises; domain code never calls ``commit()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, Protocol

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

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


def create_engine(
    settings: ServiceSettings,
    *,
    pre_ping: bool = True,
    server_settings: Mapping[str, str] | None = None,
) -> AsyncEngine:
    """The service's engine, its connections in its own schema. ``pre_ping``
    checks a connection before each checkout (a round trip); a hot loop that
    survives a failed statement anyway may leave it off. ``server_settings``
    are further settings of every connection."""
    session_settings = dict(server_settings or {})
    if settings.database_schema:
        session_settings["search_path"] = settings.database_schema
    return create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_pre_ping=pre_ping,
        connect_args={"server_settings": session_settings} if session_settings else {},
    )


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
