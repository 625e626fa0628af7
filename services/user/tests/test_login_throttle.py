"""The login throttle: per account and address, growing, blind to whether an account exists.

Test settings: 3 free failures, then 30 s, 60 s, 100 s (the cap).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pyotp
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from user_service.models import LoginThrottle

from .conftest import STRONG_PASSWORD, bearer, register_and_login, registration

ATTACKER = {"x-cerc-client-address": "203.0.113.66"}
OWNER = {"x-cerc-client-address": "198.51.100.7"}


async def _login(client: httpx.AsyncClient, headers: dict[str, str], **body: str) -> httpx.Response:
    return await client.post("/api/auth/login/", json=body, headers=headers)


async def _fail(client: httpx.AsyncClient, name: str, times: int) -> None:
    for _ in range(times):
        failed = await _login(client, ATTACKER, username=name, password="Wrong-pass-1")
        assert failed.status_code == 401, failed.text


async def _unblock(maker: async_sessionmaker[AsyncSession]) -> None:
    """As if the block had run out."""
    async with maker() as session:
        past = datetime.now(UTC) - timedelta(seconds=1)
        await session.execute(update(LoginThrottle).values(blocked_until=past))
        await session.commit()


async def test_failures_slow_down_the_address_not_the_owner(client: httpx.AsyncClient) -> None:
    await client.post("/api/auth/register/", json=registration("mario"))
    await _fail(client, "mario", 3)
    # Even the right password is not looked at from the attacker's address...
    blocked = await _login(client, ATTACKER, username="mario", password=STRONG_PASSWORD)
    assert blocked.status_code == 429, blocked.text
    assert blocked.json()["errors"][0]["code"] == "too_many_attempts"
    assert 25 <= int(blocked.headers["retry-after"]) <= 31
    # ...while the owner, elsewhere, is not locked out by someone who knows the name.
    owner = await _login(client, OWNER, username="mario", password=STRONG_PASSWORD)
    assert owner.status_code == 200, owner.text


async def test_the_delay_grows_with_each_failure(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await client.post("/api/auth/register/", json=registration("mario"))
    await _fail(client, "mario", 3)
    waits = []
    for _ in range(3):
        await _unblock(sessionmaker)
        await _fail(client, "mario", 1)
        blocked = await _login(client, ATTACKER, username="mario", password="Wrong-pass-1")
        assert blocked.status_code == 429
        waits.append(int(blocked.headers["retry-after"]))
    assert 55 <= waits[0] <= 61 and 95 <= waits[1] <= 101 and 95 <= waits[2] <= 101


async def test_an_unknown_name_is_throttled_the_same_way(client: httpx.AsyncClient) -> None:
    await client.post("/api/auth/register/", json=registration("mario"))
    await _fail(client, "mario", 3)
    await _fail(client, "nobody", 3)
    real = await _login(client, ATTACKER, username="mario", password=STRONG_PASSWORD)
    unknown = await _login(client, ATTACKER, username="nobody", password=STRONG_PASSWORD)
    assert real.status_code == unknown.status_code == 429
    assert real.json()["errors"][0]["code"] == unknown.json()["errors"][0]["code"]
    assert real.headers["retry-after"] == unknown.headers["retry-after"]


async def test_wrong_one_time_codes_count_toward_the_throttle(client: httpx.AsyncClient) -> None:
    tokens = await register_and_login(client)
    secret = (await client.post("/api/auth/2fa/setup/", headers=bearer(tokens))).json()["data"][
        "secret"
    ]
    totp = pyotp.TOTP(secret)
    confirmed = await client.post(
        "/api/auth/2fa/confirm/", json={"otp": totp.now()}, headers=bearer(tokens)
    )
    assert confirmed.status_code == 200
    valid = {totp.at(datetime.now(UTC) + timedelta(seconds=30 * d)) for d in (-1, 0, 1)}
    wrong = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)
    for _ in range(3):
        guess = await _login(
            client, ATTACKER, username="mario", password=STRONG_PASSWORD, otp=wrong
        )
        assert guess.status_code == 401 and guess.json()["errors"][0]["code"] == "invalid_otp"
    next_code = totp.at(datetime.now(UTC) + timedelta(seconds=30))
    blocked = await _login(
        client, ATTACKER, username="mario", password=STRONG_PASSWORD, otp=next_code
    )
    assert blocked.status_code == 429, blocked.text
    owner = await _login(client, OWNER, username="mario", password=STRONG_PASSWORD, otp=next_code)
    assert owner.status_code == 200, owner.text


async def test_a_success_clears_the_streak(client: httpx.AsyncClient) -> None:
    await client.post("/api/auth/register/", json=registration("mario"))
    await _fail(client, "mario", 2)
    assert (await _login(client, ATTACKER, username="mario", password=STRONG_PASSWORD)).is_success
    await _fail(client, "mario", 2)
    again = await _login(client, ATTACKER, username="mario", password=STRONG_PASSWORD)
    assert again.status_code == 200, again.text
