"""A person's own account data: the export holds their profile, sign-ins and
actions and no secret; the erasure asks for the password (and the code with
2FA), pseudonymises the account, ends its sessions, is audited, and tells the
other services on user.v1 (marked erased) so they erase their copies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pyotp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from user_service.models import AuditEntry, User, outbox

from .conftest import STRONG_PASSWORD, bearer, register_and_login


async def _events(maker: async_sessionmaker[AsyncSession], user_id: int) -> list[dict[str, Any]]:
    async with maker() as session:
        rows = (await session.execute(select(outbox.c.envelope).order_by(outbox.c.id))).scalars()
        return [e["data"] for e in rows if e["data"].get("user_id") == user_id]


async def test_the_export_is_the_callers_own_and_holds_no_secret(client: httpx.AsyncClient) -> None:
    tokens = await register_and_login(client, "export-ada")
    await register_and_login(client, "export-bea")
    answer = await client.get("/api/users/me/export/", headers=bearer(tokens))
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["profile"]["username"] == "export-ada"
    assert data["profile"]["email"] == "export-ada@example.it"
    assert len(data["sign_ins"]) == 1 and data["sign_ins"][0]["revoked_at"] is None
    text = answer.text
    assert "export-bea" not in text
    for secret in ("password_hash", "token_hash", "totp_secret", tokens["refresh_token"]):
        assert secret not in text
    assert (await client.get("/api/users/me/export/")).status_code == 401


async def test_erasure_needs_the_password_and_writes_nothing_without_it(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tokens = await register_and_login(client, "erase-wrong")
    wrong = await client.post(
        "/api/users/me/erasure/", json={"password": "not-it-1"}, headers=bearer(tokens)
    )
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["field"] == "password"
    missing = await client.post("/api/users/me/erasure/", json={}, headers=bearer(tokens))
    assert missing.status_code == 422
    me = await client.get("/api/users/me/", headers=bearer(tokens))
    assert me.json()["data"]["username"] == "erase-wrong"
    async with sessionmaker() as session:
        user = await session.scalar(select(User).where(User.username == "erase-wrong"))
        assert user is not None and user.is_active
        assert not (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "user.erased", AuditEntry.entity_id == str(user.id)
                )
            )
        ).all()


async def test_erasure_pseudonymises_ends_sessions_audits_and_tells_the_others(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tokens = await register_and_login(client, "erase-carla")
    user_id = (await client.get("/api/users/me/", headers=bearer(tokens))).json()["data"]["id"]
    erased = await client.post(
        "/api/users/me/erasure/", json={"password": STRONG_PASSWORD}, headers=bearer(tokens)
    )
    assert erased.status_code == 200, erased.text
    body = erased.json()["data"]
    assert body["user_id"] == user_id
    assert any("10" in r and "2220" in r for r in body["retained"])
    async with sessionmaker() as session:
        user = await session.get(User, user_id)
        assert user is not None
        assert (user.username, user.first_name, user.last_name) == (f"erased-{user_id}", "", "")
        assert "carla" not in user.email and not user.is_active
        audit = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "user.erased", AuditEntry.entity_id == str(user_id)
                )
            )
        ).all()
        assert len(audit) == 1 and "erase-carla" not in str(audit[0].before)
    # Signing in no longer works, with the old password or the old refresh token.
    login = await client.post(
        "/api/auth/login/", json={"username": "erase-carla", "password": STRONG_PASSWORD}
    )
    assert login.status_code == 401
    refresh = await client.post(
        "/api/auth/refresh/", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code in (400, 401)
    # user.v1 carries the erasure: pseudonymised facts, inactive, marked erased.
    published = await _events(sessionmaker, user_id)
    last = [e for e in published if e["type"] == "user.updated"][-1]
    assert last["changed"][-1] == "erased"
    assert last["username"] == f"erased-{user_id}" and last["is_active"] is False
    # and the status alone on user-status.v1, for every service's token check.
    status = [e for e in published if e["type"] == "user.status_changed"]
    assert status and status[-1]["is_active"] is False


async def test_erasure_with_two_step_verification_needs_the_code(
    client: httpx.AsyncClient,
) -> None:
    tokens = await register_and_login(client, "erase-dora")
    secret = (await client.post("/api/auth/2fa/setup/", headers=bearer(tokens))).json()["data"][
        "secret"
    ]
    totp = pyotp.TOTP(secret)
    confirmed = await client.post(
        "/api/auth/2fa/confirm/", json={"otp": totp.now()}, headers=bearer(tokens)
    )
    assert confirmed.status_code == 200
    no_code = await client.post(
        "/api/users/me/erasure/", json={"password": STRONG_PASSWORD}, headers=bearer(tokens)
    )
    assert no_code.status_code == 422
    assert no_code.json()["errors"][0]["field"] == "otp"
    # The confirming code is spent: the next step's code erases.
    code = totp.at(datetime.now(UTC), counter_offset=1)
    erased = await client.post(
        "/api/users/me/erasure/",
        json={"password": STRONG_PASSWORD, "otp": code},
        headers=bearer(tokens),
    )
    assert erased.status_code == 200, erased.text
