"""Login, rotation of refresh tokens, reuse detection, logout, lockout, password change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pyotp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from user_service.models import RefreshToken

from .conftest import STRONG_PASSWORD, bearer, register_and_login, registration


async def test_login_me_refresh_logout(client: httpx.AsyncClient) -> None:
    tokens = await register_and_login(client)
    me = await client.get("/api/users/me/", headers=bearer(tokens))
    assert me.status_code == 200 and me.json()["data"]["username"] == "mario"

    rotated = await client.post(
        "/api/auth/refresh/", json={"refresh_token": tokens["refresh_token"]}
    )
    assert rotated.status_code == 200
    new = rotated.json()["data"]
    assert new["refresh_token"] != tokens["refresh_token"]
    assert (await client.get("/api/users/me/", headers=bearer(new))).status_code == 200

    spent = await client.post("/api/auth/refresh/", json={"refresh_token": tokens["refresh_token"]})
    assert spent.status_code == 401
    assert spent.json()["errors"][0]["code"] == "invalid_refresh_token"

    # Reuse of a spent token revoked the whole family: the newest one is dead too.
    after_reuse = await client.post(
        "/api/auth/refresh/", json={"refresh_token": new["refresh_token"]}
    )
    assert after_reuse.status_code == 401


async def test_logout_revokes_refresh_token(client: httpx.AsyncClient) -> None:
    tokens = await register_and_login(client)
    out = await client.post(
        "/api/auth/logout/", json={"refresh_token": tokens["refresh_token"]}, headers=bearer(tokens)
    )
    assert out.status_code == 200
    again = await client.post("/api/auth/refresh/", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 401


async def test_logout_needs_a_token_and_ones_own_refresh_token(client: httpx.AsyncClient) -> None:
    mario = await register_and_login(client, "mario")
    luigi = await register_and_login(client, "luigi")
    anonymous = await client.post(
        "/api/auth/logout/", json={"refresh_token": mario["refresh_token"]}
    )
    assert anonymous.status_code == 401
    foreign = await client.post(
        "/api/auth/logout/", json={"refresh_token": mario["refresh_token"]}, headers=bearer(luigi)
    )
    assert foreign.status_code == 400
    still = await client.post("/api/auth/refresh/", json={"refresh_token": mario["refresh_token"]})
    assert still.status_code == 200


async def test_wrong_password_and_unknown_user_look_the_same(client: httpx.AsyncClient) -> None:
    await client.post("/api/auth/register/", json=registration("mario"))
    wrong = await client.post(
        "/api/auth/login/", json={"username": "mario", "password": "Nope-123456"}
    )
    unknown = await client.post("/api/auth/login/", json={"username": "nobody", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["errors"] == unknown.json()["errors"]


async def test_login_by_email(client: httpx.AsyncClient) -> None:
    await client.post("/api/auth/register/", json=registration("mario"))
    response = await client.post(
        "/api/auth/login/", json={"username": "MARIO@example.it", "password": STRONG_PASSWORD}
    )
    assert response.status_code == 200


async def test_password_change_ends_every_other_session(client: httpx.AsyncClient) -> None:
    tokens = await register_and_login(client)
    elsewhere = await _login(client, "mario", STRONG_PASSWORD)
    weak = await client.post(
        "/api/users/me/password/",
        json={"current_password": STRONG_PASSWORD, "new_password": "weak"},
        headers=bearer(tokens),
    )
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "new_password"
    wrong = await client.post(
        "/api/users/me/password/",
        json={"current_password": "Not-the-one-1", "new_password": "Brand-New-Pass-7"},
        headers=bearer(tokens),
    )
    assert wrong.status_code == 400
    changed = await client.post(
        "/api/users/me/password/",
        json={"current_password": STRONG_PASSWORD, "new_password": "Brand-New-Pass-7"},
        headers=bearer(tokens),
    )
    assert changed.status_code == 200
    other = await client.post(
        "/api/auth/refresh/", json={"refresh_token": elsewhere["refresh_token"]}
    )
    assert other.status_code == 401
    own = await client.post("/api/auth/refresh/", json={"refresh_token": tokens["refresh_token"]})
    assert own.status_code == 200, own.text
    old = await client.post(
        "/api/auth/login/", json={"username": "mario", "password": STRONG_PASSWORD}
    )
    assert old.status_code == 401
    new = await client.post(
        "/api/auth/login/", json={"username": "mario", "password": "Brand-New-Pass-7"}
    )
    assert new.status_code == 200


async def test_enabling_two_factor_ends_every_other_session(client: httpx.AsyncClient) -> None:
    tokens = await register_and_login(client)
    elsewhere = await _login(client, "mario", STRONG_PASSWORD)
    secret = (await client.post("/api/auth/2fa/setup/", headers=bearer(tokens))).json()["data"][
        "secret"
    ]
    confirmed = await client.post(
        "/api/auth/2fa/confirm/", json={"otp": pyotp.TOTP(secret).now()}, headers=bearer(tokens)
    )
    assert confirmed.status_code == 200, confirmed.text
    other = await client.post(
        "/api/auth/refresh/", json={"refresh_token": elsewhere["refresh_token"]}
    )
    assert other.status_code == 401
    own = await client.post("/api/auth/refresh/", json={"refresh_token": tokens["refresh_token"]})
    assert own.status_code == 200, own.text


async def test_refreshing_never_extends_a_login_past_its_absolute_end(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tokens = await register_and_login(client)
    async with sessionmaker() as session:
        started = await session.scalar(select(RefreshToken.session_expires_at))
    assert started is not None
    # 30 days from the login (test settings keep the default), whatever the sliding TTL.
    assert abs((started - datetime.now(UTC)) - timedelta(days=30)) < timedelta(minutes=1)
    rotated = await client.post(
        "/api/auth/refresh/", json={"refresh_token": tokens["refresh_token"]}
    )
    assert rotated.status_code == 200
    async with sessionmaker() as session:
        ends = set(await session.scalars(select(RefreshToken.session_expires_at)))
        expiries = list(await session.scalars(select(RefreshToken.expires_at)))
        assert ends == {started} and all(e <= started for e in expiries)
        # As if the 30 days had passed while the sliding window kept it alive.
        await session.execute(
            update(RefreshToken).values(
                session_expires_at=datetime.now(UTC) - timedelta(seconds=1),
                expires_at=datetime.now(UTC) + timedelta(days=1),
            )
        )
        await session.commit()
    fresh = rotated.json()["data"]
    expired = await client.post(
        "/api/auth/refresh/", json={"refresh_token": fresh["refresh_token"]}
    )
    assert expired.status_code == 401


async def _login(client: httpx.AsyncClient, name: str, password: str) -> dict[str, str]:
    response = await client.post("/api/auth/login/", json={"username": name, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()["data"]
    return tokens
