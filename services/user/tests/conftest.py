from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cerc_shared.testing import prepare_database, rolled_back_app_sessions
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from user_service.main import create_app
from user_service.settings import UserSettings

SERVICE_DIR = Path(__file__).resolve().parents[1]
STRONG_PASSWORD = "Correct-Horse-42"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> UserSettings:
    dsn = prepare_database("user", "cerc_test_user", SERVICE_DIR)
    return UserSettings(
        database_url=dsn,
        environment="test",
        max_failed_logins=3,
        throttle_base_s=30,
        throttle_max_s=100,
        jwt_private_key_file=str(tmp_path_factory.mktemp("keys") / "jwt.pem"),
    )


@pytest.fixture(scope="session")
async def app(settings: UserSettings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def sessionmaker(
    app: FastAPI, settings: UserSettings
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with rolled_back_app_sessions(app, settings) as maker:
        yield maker


@pytest.fixture
async def client(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://user") as http:
        yield http


def registration(name: str = "mario", **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "username": name,
        "email": f"{name}@example.it",
        "password": STRONG_PASSWORD,
        "first_name": "Mario",
        "last_name": "Rossi",
        "user_type": "PRIVATE",
    }
    body.update(overrides)
    return body


async def register_and_login(client: httpx.AsyncClient, name: str = "mario") -> dict[str, str]:
    created = await client.post("/api/auth/register/", json=registration(name))
    assert created.status_code == 201, created.text
    login = await client.post(
        "/api/auth/login/", json={"username": name, "password": STRONG_PASSWORD}
    )
    assert login.status_code == 200, login.text
    tokens: dict[str, str] = login.json()["data"]
    return tokens


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}
