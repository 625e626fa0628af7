"""The user service app: accounts, tokens, two-factor and the JWKS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cerc_shared.app import create_service_app
from cerc_shared.auth import StaticKeys, TokenVerifier
from cerc_shared.crypto import FieldCipher
from cerc_shared.runtime import service_runtime
from fastapi import FastAPI

from user_service.api import auth, clients, personal_data, users
from user_service.api.shortcut import ProfileShortcut
from user_service.models import outbox
from user_service.service import AuthContext
from user_service.settings import UserSettings
from user_service.tokens import load_signing_key


def create_app(settings: UserSettings | None = None) -> FastAPI:
    settings = settings or UserSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        signing_key = load_signing_key(settings)
        # The user service trusts its own key directly: no HTTP call to itself.
        verifier = TokenVerifier(
            StaticKeys({signing_key.kid: signing_key.public_key}),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        async with service_runtime(
            app, settings, outbox=outbox, read_pool=True, token_verifier=verifier
        ):
            app.state.auth_context = AuthContext(
                settings=settings,
                signing_key=signing_key,
                cipher=FieldCipher.from_setting(settings.data_keys, settings.data_key_current),
            )
            yield

    return create_service_app(
        service=settings.service_name,
        title="CerCollettiva user service",
        version="1.0.0",
        description=(
            "Accounts, login with optional TOTP, rotating refresh tokens, the JWKS; "
            "OAuth 2.0 client credentials for services and partners."
        ),
        lifespan=lifespan,
        routers=[auth.router, clients.router, users.router, personal_data.router],
        inner_middleware=[ProfileShortcut],
    )


def app() -> FastAPI:
    """Factory for `uvicorn --factory user_service.main:app`."""
    return create_app()
