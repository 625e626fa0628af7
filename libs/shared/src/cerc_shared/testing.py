"""Test support for the services: a real database built by the service's real
migrations, a session whose work is rolled back after each test, the tests'
own tokens, and the app, sessionmaker and client fixtures every service's
conftest would otherwise write again (:func:`service_fixtures`).

Needs the local servers (`make infra-up`); when PostgreSQL is not there the
tests fail with the reason, they never skip.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, tzinfo
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cerc_shared.auth import StaticKeys, TokenVerifier
from cerc_shared.bus_acl import development_password
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


def bus_principal(principal: str) -> dict[str, Any]:
    """Settings that put a service under test on the bus as its own principal
    (the local SASL listener, cerc_shared.bus_acl's ACLs): it can write only
    its own topics there, as in a fleet."""
    return {
        "kafka_bootstrap": f"127.0.0.1:{ports()['KAFKA_SASL_PORT']}",
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_username": principal,
        "kafka_sasl_password": development_password(principal),
    }


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


def alembic(service: str, service_dir: Path, dsn: str, *args: str) -> None:
    """Run ``alembic *args`` on ``service``'s migrations against ``dsn``; raise with its output."""
    run = subprocess.run(
        ["alembic", "-c", str(service_dir / "alembic.ini"), *args],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            f"CERC_{service.upper()}_DATABASE_URL": dsn,
            # The test database's login is a development key (unset means production).
            f"CERC_{service.upper()}_ENVIRONMENT": "test",
        },
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"alembic {' '.join(args)} failed:\n" + run.stdout + run.stderr)


def prepare_database(service: str, database: str, service_dir: Path) -> str:
    """Recreate ``database`` with every service schema and migrate ``service``'s to head."""
    bootstrap_database(database)
    dsn = service_dsn(service, database)
    alembic(service, service_dir, dsn, "upgrade", "head")
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


# ------------------------------------------------------------- the test kit


class TestTokens:
    """Access tokens signed by a key the tests hold, checked by the service's own
    verification code (a :class:`TokenVerifier` on that key instead of the JWKS)."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, kid: str, *, issuer: str = "cercollettiva-user") -> None:
        self.kid = kid
        self.issuer = issuer
        self.audience = "cercollettiva"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def verifier(self, settings: ServiceSettings) -> TokenVerifier:
        return TokenVerifier(
            StaticKeys({self.kid: self.key.public_key()}),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )

    def token(self, user_id: int, user_type: str = "PRIVATE", *, username: str = "") -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "username": username or f"user{user_id}",
            "user_type": user_type,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
            "token_use": "access",
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    def headers(self, user_id: int, user_type: str = "PRIVATE") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, user_type)}"}


@asynccontextmanager
async def running_app(
    app: FastAPI, settings: ServiceSettings, tokens: TestTokens | None = None
) -> AsyncIterator[FastAPI]:
    """``app`` with its lifespan running; with ``tokens``, checking the tests' tokens."""
    async with app.router.lifespan_context(app):
        if tokens is not None:
            app.state.token_verifier = tokens.verifier(settings)
        yield app


@asynccontextmanager
async def asgi_client(app: FastAPI, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling ``app`` in process (no socket)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
        yield http


def service_fixtures(
    create_app: Callable[[Any], FastAPI],
    *,
    base_url: str,
    tokens: TestTokens | None = None,
) -> tuple[Any, Any, Any]:
    """The ``app`` (per session, lifespan running), ``sessionmaker`` (each test's
    writes rolled back, the app's requests inside them) and ``client`` fixtures
    of a service's conftest, which needs only a ``settings`` fixture::

        app, sessionmaker, client = service_fixtures(create_app, base_url="http://x", tokens=TOKENS)
    """

    @pytest.fixture(scope="session", name="app")
    async def app_fixture(settings: ServiceSettings) -> AsyncIterator[FastAPI]:
        async with running_app(create_app(settings), settings, tokens) as application:
            yield application

    @pytest.fixture(name="sessionmaker")
    async def sessionmaker_fixture(
        app: FastAPI, settings: ServiceSettings
    ) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
        async with rolled_back_app_sessions(app, settings) as maker:
            yield maker

    @pytest.fixture(name="client")
    async def client_fixture(
        app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> AsyncIterator[httpx.AsyncClient]:
        async with asgi_client(app, base_url) as http:
            yield http

    return app_fixture, sessionmaker_fixture, client_fixture


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 60
) -> None:
    """Wait until ``check`` holds (an event consumed, a run finished); fail with
    ``what`` when it never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened within {timeout_s}s: {what}")
