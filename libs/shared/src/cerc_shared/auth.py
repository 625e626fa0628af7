"""Who is asking: RS256 access tokens checked against the user service's JWKS.

The gateway checks every token; each service checks it again, because inside
a cluster the gateway is not the only way in. Keys are cached and refetched
when a token names an unknown ``kid`` (key rotation), at most once per
``min_refetch_s``. Authorisation (which community, which role) is decided by
the service that owns the data, not here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import httpx
import jwt
from cachetools import LRUCache
from fastapi import Depends, Request
from jwt import PyJWK

from cerc_shared.envelope import ApiError
from cerc_shared.settings import ServiceSettings

ALGORITHM = "RS256"


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    user_type: str
    token_id: str
    # The login (refresh-token family) the token was issued to; "" for tokens
    # that name none.
    session_id: str = ""

    @property
    def is_platform_admin(self) -> bool:
        return self.user_type == "ADMIN"


class KeySource(Protocol):
    async def key_for(self, kid: str) -> Any: ...


class StaticKeys:
    """Keys known in-process (the user service verifies with its own)."""

    def __init__(self, keys: Mapping[str, Any]) -> None:
        self._keys = dict(keys)

    async def key_for(self, kid: str) -> Any:
        return self._keys.get(kid)


class JwksCache:
    def __init__(self, url: str, ttl_s: int = 300, min_refetch_s: float = 10.0) -> None:
        self._url = url
        self._ttl_s = ttl_s
        self._min_refetch_s = min_refetch_s
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> Any:
        fresh = time.monotonic() - self._fetched_at < self._ttl_s
        if kid in self._keys and fresh:
            return self._keys[kid]
        async with self._lock:
            since = time.monotonic() - self._fetched_at
            if (kid not in self._keys and since >= self._min_refetch_s) or since >= self._ttl_s:
                await self._fetch()
        return self._keys.get(kid)

    async def _fetch(self) -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(self._url)
            response.raise_for_status()
        keys = {}
        for jwk in response.json().get("keys", []):
            if jwk.get("kid") and jwk.get("kty") == "RSA":
                keys[jwk["kid"]] = PyJWK.from_dict(jwk, algorithm=ALGORITHM).key
        self._keys = keys
        self._fetched_at = time.monotonic()


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "invalid_token", message, headers={"WWW-Authenticate": "Bearer"})


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    expires_at: float
    kid: str
    key: Any


class TokenVerifier:
    """Checks a token's signature, issuer, audience and expiry.

    A token that passed is remembered (bounded, least recently used out) until
    it expires, with the key that verified it: it is accepted again without
    the RSA check only while the key source still returns that very key, so a
    key withdrawn from the JWKS (or refetched) sends it through the full check.
    """

    def __init__(self, keys: KeySource, issuer: str, audience: str, remember: int = 10_000) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._verified: LRUCache[str, _Verified] | None = (
            LRUCache(maxsize=remember) if remember > 0 else None
        )

    async def verify(self, token: str) -> Principal:
        if self._verified is not None and (known := self._verified.get(token)) is not None:
            if time.time() < known.expires_at and await self._keys.key_for(known.kid) is known.key:
                return known.principal
            self._verified.pop(token, None)
        return await self._verify(token)

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _unauthorized("malformed token") from exc
        if header.get("alg") != ALGORITHM:
            raise _unauthorized("token algorithm not accepted")
        try:
            key = await self._keys.key_for(str(header.get("kid", "")))
        except httpx.HTTPError as exc:
            raise ApiError(503, "jwks_unavailable", "cannot fetch signing keys") from exc
        if key is None:
            raise _unauthorized("token signed with an unknown key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise _unauthorized("token expired") from exc
        except jwt.PyJWTError as exc:
            raise _unauthorized("token rejected") from exc
        if claims.get("token_use", "access") != "access":
            raise _unauthorized("not an access token")
        try:
            user_id = int(claims["sub"])
        except (TypeError, ValueError) as exc:
            raise _unauthorized("token subject is not a user") from exc
        principal = Principal(
            user_id=user_id,
            username=str(claims.get("username", "")),
            user_type=str(claims.get("user_type", "PRIVATE")),
            token_id=str(claims["jti"]),
            session_id=str(claims.get("sid", "")),
        )
        if self._verified is not None:
            kid = str(header.get("kid", ""))
            self._verified[token] = _Verified(principal, float(claims["exp"]), kid, key)
        return principal


def jwks_verifier(settings: ServiceSettings) -> TokenVerifier:
    """How every service but the user service checks tokens: against the cached JWKS."""
    return TokenVerifier(
        JwksCache(settings.jwks_url, ttl_s=settings.jwks_cache_ttl_s),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("missing bearer token")
    return token.strip()


async def _current_principal(request: Request) -> Principal:
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(bearer_token(request))
    # A deactivated account's tokens stay valid until they expire; the status
    # from user.v1 (cerc_shared.user_status) refuses them sooner.
    status = getattr(request.app.state, "user_status", None)
    if status is not None and status.refuses(principal.user_id):
        raise _unauthorized("this account has been deactivated")
    request.state.principal = principal
    return principal


async def _platform_admin(
    principal: Annotated[Principal, Depends(_current_principal)],
) -> Principal:
    if not principal.is_platform_admin:
        raise ApiError(403, "forbidden", "platform administrators only")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(_current_principal)]
PlatformAdmin = Annotated[Principal, Depends(_platform_admin)]
