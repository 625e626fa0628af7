"""Test support for the services: a real database built by the service's real
migrations, and a session whose work is rolled back after each test.

Needs the local servers (`make infra-up`); when PostgreSQL is not there the
tests fail with the reason, they never skip.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, tzinfo
from pathlib import Path
from types import ModuleType

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cerc_shared.db import create_engine
from cerc_shared.settings import ServiceSettings


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "infra" / "ports.env").exists():
            return parent
    raise RuntimeError("cannot find the repository root (infra/ports.env)")


def ports() -> dict[str, str]:
    values = {}
    for line in (repo_root() / "infra" / "ports.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key] = value
    return values


def service_dsn(service: str, database: str) -> str:
    # Development keys (see infra/postgres.sh).
    return f"postgresql+asyncpg://{service}_svc:{service}_dev@127.0.0.1:{ports()['PG_PORT']}/{database}"


def bootstrap_database(database: str) -> None:
    """Recreate ``database`` with every service's schema and role grants."""
    root = repo_root()
    run = subprocess.run(
        ["bash", str(root / "infra" / "postgres" / "bootstrap-db.sh"), database, "--recreate"],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(
            "PostgreSQL is not usable (did `make infra-up` run?):\n" + run.stdout + run.stderr
        )


def prepare_database(service: str, database: str, service_dir: Path) -> str:
    """Recreate ``database`` with every service schema and migrate ``service``'s to head."""
    bootstrap_database(database)
    dsn = service_dsn(service, database)
    env = {**os.environ, f"CERC_{service.upper()}_DATABASE_URL": dsn}
    migrate = subprocess.run(
        ["alembic", "-c", str(service_dir / "alembic.ini"), "upgrade", "head"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if migrate.returncode != 0:
        raise RuntimeError("migrations failed:\n" + migrate.stdout + migrate.stderr)
    return dsn


@asynccontextmanager
async def rolled_back_sessionmaker(
    engine: AsyncEngine,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A sessionmaker whose commits are savepoints inside one outer transaction
    that is rolled back at the end, so each test leaves the database as it found it."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield async_sessionmaker(
                bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
        finally:
            await transaction.rollback()


@asynccontextmanager
async def rolled_back_app_sessions(
    app: FastAPI, settings: ServiceSettings
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Point ``app``'s request sessions at one rolled-back transaction for a test."""
    engine = create_engine(settings)
    original = app.state.sessionmaker
    original_reads = getattr(app.state, "read_pool", None)
    async with rolled_back_sessionmaker(engine) as maker:
        app.state.sessionmaker = maker
        if original_reads is not None:
            app.state.read_pool = _SameConnection(maker)
        try:
            yield maker
        finally:
            app.state.sessionmaker = original
            if original_reads is not None:
                app.state.read_pool = original_reads
    await engine.dispose()


class _SameConnection:
    """A ReadPool (cerc_shared.db) that hands out the test's own connection, so
    hot reads see what the test wrote inside its rolled-back transaction."""

    def __init__(self, maker: async_sessionmaker[AsyncSession]) -> None:
        self._maker = maker

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        bind = self._maker.kw["bind"]
        raw = await bind.get_raw_connection()
        yield raw.driver_connection


def freeze_utc(monkeypatch: pytest.MonkeyPatch, moment: datetime, *modules: ModuleType) -> None:
    """Make ``datetime.now()`` in ``modules`` answer ``moment`` (an aware UTC
    instant) for one test: the clock of :mod:`cerc_shared.clock`, and of any
    module that reads the time itself, stands still."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Frozen:
            at = moment.astimezone(tz) if tz else moment.replace(tzinfo=None)
            return (
                cls.fromtimestamp(at.timestamp(), tz) if tz else cls.fromisoformat(at.isoformat())
            )

    for module in modules:
        monkeypatch.setattr(module, "datetime", Frozen)
