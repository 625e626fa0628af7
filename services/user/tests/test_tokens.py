"""The service checks every token itself, whatever the gateway did."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from cerc_shared.settings import ServiceSettings
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from user_service.settings import UserSettings

from .conftest import register_and_login


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _status(client: httpx.AsyncClient, token: str) -> int:
    response = await client.get("/api/users/me/", headers={"Authorization": f"Bearer {token}"})
    if response.status_code == 401:
        assert response.json()["errors"][0]["code"] in {"invalid_token", "unauthorized"}
    return response.status_code


async def test_jwks_publishes_the_signing_key(client: httpx.AsyncClient, app: FastAPI) -> None:
    tokens = await register_and_login(client)
    keys = (await client.get("/api/auth/jwks/")).json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256"
    header = jwt.get_unverified_header(tokens["access_token"])
    assert header["kid"] == keys[0]["kid"]
    public = jwt.PyJWK.from_dict(keys[0]).key
    claims = jwt.decode(
        tokens["access_token"], public, algorithms=["RS256"], audience="cercollettiva"
    )
    assert claims["username"] == "mario" and claims["iss"] == "cercollettiva-user"
    assert claims["exp"] - claims["iat"] == 900


async def test_forged_tokens_are_refused(client: httpx.AsyncClient, app: FastAPI) -> None:
    tokens = await register_and_login(client)
    good = tokens["access_token"]
    assert await _status(client, good) == 200

    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered = ".".join([header, _b64({**claims, "sub": "999", "user_type": "ADMIN"}), signature])
    assert await _status(client, tampered) == 401

    none_alg = ".".join([_b64({"alg": "none", "typ": "JWT"}), payload, ""])
    assert await _status(client, none_alg) == 401

    key = app.state.auth_context.signing_key
    now = datetime.now(UTC)
    base = {**claims, "iat": now - timedelta(hours=1)}
    expired = jwt.encode(
        {**base, "exp": now - timedelta(minutes=1)}, key.private_key, "RS256", {"kid": key.kid}
    )
    assert await _status(client, expired) == 401

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    foreign = jwt.encode(
        {**base, "exp": now + timedelta(minutes=5)}, other, "RS256", {"kid": key.kid}
    )
    assert await _status(client, foreign) == 401

    wrong_aud = jwt.encode(
        {**base, "aud": "someone-else", "exp": now + timedelta(minutes=5)},
        key.private_key, "RS256", {"kid": key.kid},
    )  # fmt: skip
    assert await _status(client, wrong_aud) == 401

    assert (await client.get("/api/users/me/")).status_code == 401
    assert (
        await client.get("/api/users/me/", headers={"Authorization": "Basic x"})
    ).status_code == 401


def test_production_refuses_development_keys() -> None:
    with pytest.raises(ValueError, match="development keys"):
        UserSettings(environment="production", jwt_private_key="-----BEGIN-----")
    with pytest.raises(ValueError, match="JWT_PRIVATE_KEY"):
        UserSettings(
            environment="production",
            database_url="postgresql+asyncpg://u:real@db/x",
            data_keys="k1:" + base64.b64encode(b"k" * 32).decode(),
            data_key_current="k1",
        )
    assert ServiceSettings(environment="development").environment == "development"
