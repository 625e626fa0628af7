"""The account's security changes leave the service as user.v1 events (the
notification service tells the owner), written in the same transaction as the
change, with the sign-in's address as the gateway gave it; and the language a
person reads travels on user.v1 too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from user_service.models import outbox

from .conftest import STRONG_PASSWORD, bearer, register_and_login, registration


async def _events(maker: async_sessionmaker[AsyncSession], user_id: int) -> list[dict[str, Any]]:
    async with maker() as session:
        rows = (await session.execute(select(outbox.c.envelope).order_by(outbox.c.id))).scalars()
        return [e["data"] for e in rows if e["data"].get("user_id") == user_id]


async def test_sign_in_password_and_two_factor_changes_are_published(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tokens = await register_and_login(client, "sofia")
    me = (await client.get("/api/users/me/", headers=bearer(tokens))).json()["data"]
    changed = await client.post(
        "/api/users/me/password/",
        headers=bearer(tokens),
        json={"current_password": STRONG_PASSWORD, "new_password": STRONG_PASSWORD + "-2"},
    )
    assert changed.status_code in (200, 204), changed.text
    wrong = await client.post(
        "/api/auth/login/",
        json={"username": "sofia", "password": "not-the-password-1"},
    )
    assert wrong.status_code == 401
    again = await client.post(
        "/api/auth/login/",
        json={"username": "sofia", "password": STRONG_PASSWORD + "-2"},
        headers={"User-Agent": "Firefox/130"},
    )
    assert again.status_code == 200
    tokens = again.json()["data"]
    secret = (await client.post("/api/auth/2fa/setup/", headers=bearer(tokens))).json()["data"][
        "secret"
    ]
    totp = pyotp.TOTP(secret)
    on = await client.post(
        "/api/auth/2fa/confirm/", json={"otp": totp.now()}, headers=bearer(tokens)
    )
    assert on.status_code == 200
    off = await client.post(
        "/api/auth/2fa/disable/",
        json={
            "password": STRONG_PASSWORD + "-2",
            "otp": totp.at(datetime.now(UTC) + timedelta(seconds=30)),
        },
        headers=bearer(tokens),
    )
    assert off.status_code == 200, off.text

    security = [
        (e["change"], e["user_agent"])
        for e in await _events(sessionmaker, me["id"])
        if e["type"] == "user.security_changed"
    ]
    # A failed sign-in is no session: only the two that succeeded are there.
    assert [change for change, _ in security] == [
        "session_started",
        "password_changed",
        "session_started",
        "two_factor_enabled",
        "two_factor_disabled",
    ]
    assert security[2][1] == "Firefox/130"
    started = [
        e for e in await _events(sessionmaker, me["id"]) if e.get("change") == "session_started"
    ]
    assert all(e["address"] for e in started)


async def test_the_language_is_chosen_at_registration_and_changed_later(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    created = await client.post(
        "/api/auth/register/", json={**registration("emma"), "language": "en"}
    )
    assert created.status_code == 201 and created.json()["data"]["language"] == "en"
    bad = await client.post("/api/auth/register/", json={**registration("ezio"), "language": "fr"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "language"
    tokens = (
        await client.post(
            "/api/auth/login/", json={"username": "emma", "password": STRONG_PASSWORD}
        )
    ).json()["data"]
    patched = await client.patch("/api/users/me/", headers=bearer(tokens), json={"language": "it"})
    assert patched.status_code == 200 and patched.json()["data"]["language"] == "it"
    user_id = created.json()["data"]["id"]
    facts = [
        (e["type"], e["language"])
        for e in await _events(sessionmaker, user_id)
        if e["type"] in ("user.registered", "user.updated")
    ]
    assert facts == [("user.registered", "en"), ("user.updated", "it")]
