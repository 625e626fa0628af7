from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cerc_shared import testing as kit
from cerc_shared.testing import prepare_database
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
        **kit.bus_principal("user"),
        max_failed_logins=3,
        throttle_base_s=30,
        throttle_max_s=100,
        jwt_private_key_file=str(tmp_path_factory.mktemp("keys") / "jwt.pem"),
    )


app, sessionmaker, client = kit.service_fixtures(create_app, base_url="http://user")


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
