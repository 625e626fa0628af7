from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pyotp

from .conftest import STRONG_PASSWORD, bearer, register_and_login


async def test_two_factor_enrolment_and_login(client: httpx.AsyncClient) -> None:
    tokens = await register_and_login(client)
    setup = await client.post("/api/auth/2fa/setup/", headers=bearer(tokens))
    assert setup.status_code == 200
    secret = setup.json()["data"]["secret"]
    assert setup.json()["data"]["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(secret)

    wrong = await client.post(
        "/api/auth/2fa/confirm/", json={"otp": "000000"}, headers=bearer(tokens)
    )
    if totp.now() != "000000":
        assert wrong.status_code == 400
    confirmed = await client.post(
        "/api/auth/2fa/confirm/", json={"otp": totp.now()}, headers=bearer(tokens)
    )
    assert confirmed.status_code == 200 and confirmed.json()["data"]["two_factor_enabled"] is True

    no_code = await client.post(
        "/api/auth/login/", json={"username": "mario", "password": STRONG_PASSWORD}
    )
    assert no_code.status_code == 401
    assert no_code.json()["errors"][0] == {
        "code": "otp_required",
        "message": "enter the code from your authenticator",
        "field": "otp",
        "expected": None,
    }
    # The code used to confirm is spent; the next step's code logs in once.
    next_code = totp.at(datetime.now(UTC) + timedelta(seconds=30))
    ok = await client.post(
        "/api/auth/login/",
        json={"username": "mario", "password": STRONG_PASSWORD, "otp": next_code},
    )
    assert ok.status_code == 200, ok.text
    replay = await client.post(
        "/api/auth/login/",
        json={"username": "mario", "password": STRONG_PASSWORD, "otp": next_code},
    )
    assert replay.status_code == 401
    assert replay.json()["errors"][0]["code"] == "invalid_otp"

    bad_format = await client.post(
        "/api/auth/login/", json={"username": "mario", "password": STRONG_PASSWORD, "otp": "12ab"}
    )
    assert bad_format.status_code == 422 and bad_format.json()["errors"][0]["field"] == "otp"


async def test_two_factor_secret_is_sealed_at_rest(client: httpx.AsyncClient, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select
    from user_service.models import User

    tokens = await register_and_login(client)
    secret = (await client.post("/api/auth/2fa/setup/", headers=bearer(tokens))).json()["data"][
        "secret"
    ]
    async with sessionmaker() as session:
        stored = await session.scalar(select(User.totp_pending_secret))
    assert stored is not None and secret not in stored and stored.startswith("v1:")
