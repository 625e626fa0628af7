"""Services verify tokens against the user service's JWKS, cached; a token
signed with a new key (rotation) makes the cache refetch, at most so often."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cerc_shared.auth import JwksCache, TokenVerifier
from cerc_shared.envelope import ApiError
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


class JwksServer:
    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.fetches = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.fetches += 1
                body = json.dumps(
                    {
                        "keys": [
                            {**json.loads(RSAAlgorithm.to_jwk(k.public_key())), "kid": kid}
                            for kid, k in owner.keys.items()
                        ]
                    }
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/auth/jwks/"

    def add_key(self, kid: str) -> rsa.RSAPrivateKey:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self.keys[kid]


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()


def _token(key: rsa.RSAPrivateKey, kid: str, **claims: Any) -> str:
    now = datetime.now(UTC)
    body = {"iss": "cercollettiva-user", "aud": "cercollettiva", "sub": "42", "username": "m",
            "user_type": "PRIVATE", "iat": now, "exp": now + timedelta(minutes=5),
            "jti": uuid.uuid4().hex, **claims}  # fmt: skip
    return jwt.encode(body, key, "RS256", {"kid": kid})


async def test_rotation_refetches_once_and_unknown_keys_are_refused(
    jwks_server: JwksServer,
) -> None:
    first = jwks_server.add_key("k1")
    cache = JwksCache(jwks_server.url, ttl_s=300, min_refetch_s=0)
    verifier = TokenVerifier(cache, issuer="cercollettiva-user", audience="cercollettiva")

    principal = await verifier.verify(_token(first, "k1"))
    assert (principal.user_id, principal.user_type) == (42, "PRIVATE")
    for _ in range(5):
        await verifier.verify(_token(first, "k1"))
    assert jwks_server.fetches == 1  # cached

    second = jwks_server.add_key("k2")  # the user service rotated its key
    assert (await verifier.verify(_token(second, "k2"))).user_id == 42
    assert jwks_server.fetches == 2

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(ApiError) as refused:
        await verifier.verify(_token(stranger, "k3"))
    assert refused.value.status_code == 401
    with pytest.raises(ApiError):
        await verifier.verify(_token(stranger, "k1"))  # a known kid, the wrong key


async def test_refetches_are_rate_limited(jwks_server: JwksServer) -> None:
    key = jwks_server.add_key("k1")
    cache = JwksCache(jwks_server.url, ttl_s=300, min_refetch_s=60)
    verifier = TokenVerifier(cache, issuer="cercollettiva-user", audience="cercollettiva")
    await verifier.verify(_token(key, "k1"))
    for _ in range(10):  # a flood of tokens with made-up kids must not flood the user service
        with pytest.raises(ApiError):
            await verifier.verify(_token(key, f"bogus-{uuid.uuid4().hex[:6]}"))
    assert jwks_server.fetches == 1


async def test_unreachable_jwks_is_503_not_401() -> None:
    verifier = TokenVerifier(
        JwksCache("http://127.0.0.1:9/jwks/"), issuer="cercollettiva-user", audience="cercollettiva"
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(ApiError) as unavailable:
        await verifier.verify(_token(key, "k1"))
    assert unavailable.value.status_code == 503


class CountingKeys:
    """A key source that can withdraw a key, counting the RSA checks it enables."""

    def __init__(self, keys: dict[str, Any]) -> None:
        self.keys = keys

    async def key_for(self, kid: str) -> Any:
        return self.keys.get(kid)


async def test_a_verified_token_is_remembered_only_while_valid_and_its_key_stands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = CountingKeys({"k1": private.public_key()})
    verifier = TokenVerifier(keys, issuer="cercollettiva-user", audience="cercollettiva")
    decodes = 0
    real_decode = jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        nonlocal decodes
        decodes += 1
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    token = _token(private, "k1")
    for _ in range(3):
        assert (await verifier.verify(token)).user_id == 42
    assert decodes == 1  # checked once, remembered after

    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(ApiError):
        await verifier.verify(tampered)  # another string: checked, and refused

    keys.keys = {}  # the key is withdrawn: the remembered token goes through the check again
    with pytest.raises(ApiError) as refused:
        await verifier.verify(token)
    assert refused.value.status_code == 401

    keys.keys = {"k1": private.public_key()}
    short = _token(private, "k1", exp=datetime.now(UTC) + timedelta(seconds=2))
    await verifier.verify(short)
    await asyncio.sleep(3)
    with pytest.raises(ApiError) as expired:
        await verifier.verify(short)  # remembered, but expired by now
    assert expired.value.status_code == 401
