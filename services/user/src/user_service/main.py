"""The user service app: accounts, tokens, two-factor and the JWKS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cerc_shared import db
from cerc_shared import user_status as cerc_user_status
from cerc_shared.app import create_service_app
from cerc_shared.auth import StaticKeys, TokenVerifier
from cerc_shared.crypto import FieldCipher
from cerc_shared.logging import configure_logging
from cerc_shared.outbox import OutboxRelay
from fastapi import FastAPI

from user_service.api import auth, clients, users
from user_service.models import outbox
from user_service.service import AuthContext
from user_service.settings import UserSettings
from user_service.tokens import load_signing_key


def create_app(settings: UserSettings | None = None) -> FastAPI:
    settings = settings or UserSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        engine = db.create_engine(settings)
        sessionmaker = db.create_sessionmaker(engine)
        signing_key = load_signing_key(settings)
        app.state.sessionmaker = sessionmaker
        # The profile read (GET /api/users/me/) goes without the ORM session.
        app.state.read_pool = await db.create_read_pool(settings)
        app.state.auth_context = AuthContext(
            settings=settings,
            signing_key=signing_key,
            cipher=FieldCipher.from_setting(settings.data_keys, settings.data_key_current),
        )
        # The user service trusts its own key directly: no HTTP call to itself.
        app.state.token_verifier = TokenVerifier(
            StaticKeys({signing_key.kid: signing_key.public_key}),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        relay = OutboxRelay.from_settings(settings, sessionmaker, outbox)
        app.state.outbox_relay = relay
        app.state.readiness_checks["database"] = lambda: db.ping(engine)
        relay.start()
        user_status = cerc_user_status.install(app, settings)
        try:
            yield
        finally:
            await user_status.stop()
            await relay.stop()
            await app.state.read_pool.close()
            await engine.dispose()

    return create_service_app(
        service=settings.service_name,
        title="CerCollettiva user service",
        version="1.0.0",
        description=(
            "Accounts, login with optional TOTP, rotating refresh tokens, the JWKS; "
            "OAuth 2.0 client credentials for services and partners."
        ),
        lifespan=lifespan,
        routers=[auth.router, clients.router, users.router],
    )


def app() -> FastAPI:
    """Factory for `uvicorn --factory user_service.main:app`."""
    return create_app()
