"""Client-credentials tokens: what `TokenVerifier.verify_client` accepts, and that the two kinds
of token never pass for each other."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cerc_shared.auth import ClientPrincipal, StaticKeys, TokenVerifier
from cerc_shared.envelope import ApiError
from cryptography.hazmat.primitives.asymmetric import rsa

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
VERIFIER = TokenVerifier(
    StaticKeys({"k1": KEY.public_key()}), issuer="cercollettiva-user", audience="cercollettiva"
)


def _token(key: rsa.RSAPrivateKey = KEY, **claims: Any) -> str:
    now = datetime.now(UTC)
    body = {
        "iss": "cercollettiva-user",
        "aud": "cercollettiva",
        "sub": "client:cerc-0123",
        "token_use": "client",
        "scope": "energy:read registry:read",
        "community_id": 7,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": uuid.uuid4().hex,
    } | claims
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, "RS256", {"kid": "k1"})


async def _refused(token: str, status: int, code: str) -> None:
    with pytest.raises(ApiError) as e:
        await VERIFIER.verify_client(token)
    assert (e.value.status_code, e.value.errors[0].code) == (status, code)


async def test_a_client_token_gives_its_client_scopes_and_community() -> None:
    client = await VERIFIER.verify_client(_token())
    assert client == ClientPrincipal(
        client_id="cerc-0123",
        scopes=frozenset({"energy:read", "registry:read"}),
        community_id=7,
        token_id=client.token_id,
    )
    platform = await VERIFIER.verify_client(_token(community_id=None))
    assert platform.community_id is None
    platform.check_community(12345)  # a platform service may ask about any community
    with pytest.raises(ApiError) as e:
        client.check_community(8)
    assert e.value.status_code == 404


async def test_user_and_client_tokens_never_pass_for_each_other() -> None:
    user = _token(sub="42", token_use="access", scope=None, community_id=None, username="m")
    await _refused(user, 403, "client_token_required")
    with pytest.raises(ApiError) as e:
        await VERIFIER.verify(_token())
    assert (e.value.status_code, e.value.errors[0].message) == (401, "not an access token")


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "42"},  # a client token must name a client
        {"community_id": "7"},
        {"community_id": True},
        {"scope": None},
        {"scope": ["energy:read"]},
    ],
)
async def test_malformed_client_tokens_are_401(claims: dict[str, Any]) -> None:
    await _refused(_token(**claims), 401, "invalid_token")


async def test_a_client_token_signed_with_another_key_or_expired_is_401() -> None:
    await _refused(_token(OTHER), 401, "invalid_token")
    past = datetime.now(UTC) - timedelta(hours=1)
    await _refused(_token(iat=past, exp=past + timedelta(minutes=5)), 401, "invalid_token")
