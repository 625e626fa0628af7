"""Registration: what is accepted, what is refused, and that a refusal writes nothing."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from user_service.models import User, outbox

from .conftest import registration


async def _counts(maker: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with maker() as session:
        users = await session.scalar(select(func.count()).select_from(User))
        events = await session.scalar(select(func.count()).select_from(outbox))
        return int(users or 0), int(events or 0)


async def test_register_creates_user_and_records_event(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await client.post(
        "/api/auth/register/", json=registration("Giulia", email="G@Ex.it")
    )
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True and body["errors"] == []
    data = body["data"]
    assert data["username"] == "Giulia"
    assert data["email"] == "g@ex.it"  # normalised
    assert data["user_type"] == "PRIVATE" and data["is_active"] is True
    assert "password" not in str(data) and "hash" not in str(data)
    async with sessionmaker() as session:
        stored = await session.scalar(select(User).where(User.id == data["id"]))
        assert stored is not None and stored.password_hash.startswith("$argon2id$")
        rows = (await session.execute(select(outbox.c.type, outbox.c.key, outbox.c.envelope))).all()
    assert [(r.type, r.key) for r in rows] == [("user.registered", str(data["id"]))]
    assert rows[0].envelope["data"]["email"] == "g@ex.it"
    assert rows[0].envelope["producer"] == "user"


@pytest.mark.parametrize(
    ("change", "status", "field", "code"),
    [
        ({"email": None}, 422, "email", "validation_error"),
        ({"email": "not-an-email"}, 422, "email", "validation_error"),
        ({"username": 12345}, 422, "username", "validation_error"),
        ({"username": "a b"}, 422, "username", "validation_error"),
        ({"first_name": ""}, 422, "first_name", "validation_error"),
        ({"user_type": "ADMIN"}, 422, "user_type", "validation_error"),
        ({"is_admin": True}, 422, "is_admin", "validation_error"),
        ({"password": "short1A!"}, 422, "password", "weak_password"),
        ({"password": "alllowercase"}, 422, "password", "weak_password"),
        ({"password": "Password123"}, 422, "password", "weak_password"),
        ({"password": "Xx-mario-2024"}, 422, "password", "weak_password"),
        ({"username": "x" * 151}, 422, "username", "validation_error"),
    ],
)
async def test_bad_registration_is_refused_and_writes_nothing(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    change: dict[str, object],
    status: int,
    field: str,
    code: str,
) -> None:
    body = registration("mario")
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    before = await _counts(sessionmaker)
    response = await client.post("/api/auth/register/", json=body)
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["success"] is False and payload["data"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert await _counts(sessionmaker) == before


async def test_duplicates_are_refused_case_insensitively(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    assert (await client.post("/api/auth/register/", json=registration("mario"))).status_code == 201
    before = await _counts(sessionmaker)
    same_name = await client.post(
        "/api/auth/register/", json=registration("MARIO", email="other@example.it")
    )
    assert same_name.status_code == 409
    assert same_name.json()["errors"][0]["field"] == "username"
    same_email = await client.post(
        "/api/auth/register/", json=registration("luigi", email="Mario@Example.it")
    )
    assert same_email.status_code == 409
    assert same_email.json()["errors"][0]["field"] == "email"
    assert await _counts(sessionmaker) == before


async def test_malformed_json_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register/", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "validation_error"


async def test_schema_role_cannot_reach_other_schemas(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        allowed = await session.scalar(
            text("SELECT has_schema_privilege(current_user, 'cer', 'USAGE')")
        )
    assert allowed is False
