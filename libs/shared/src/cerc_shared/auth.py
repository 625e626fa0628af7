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
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
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
    # When the token was issued (its iat, seconds since the epoch); 0 for a
    # principal built in the process (a worker acting for someone).
    issued_at: float = 0.0

    @property
    def is_platform_admin(self) -> bool:
        return self.user_type == "ADMIN"


#: Client-credentials tokens (OAuth 2.0, RFC 6749 §4.4) carry `token_use: "client"` and a
#: subject `client:<client_id>`: a user route, which needs `token_use: "access"` and a numeric
#: subject, refuses them, and a client route refuses user tokens.
CLIENT_TOKEN_USE = "client"  # noqa: S105 - a claim value, not a secret
CLIENT_SUBJECT_PREFIX = "client:"


class Scope(StrEnum):
    """What a registered client may read, route by route. All read-only."""

    ENERGY_READ = "energy:read"  # hourly fed-in and withdrawn per POD
    REGISTRY_READ = "registry:read"  # communities, members, plants, shares
    REGISTRY_READ_IBAN = "registry:read-iban"  # members' IBANs: payouts only, never partners
    ECONOMIC_READ = "economic:read"  # settlements, benefits


#: What a partner (a third party, bound to one community) may be granted.
PARTNER_SCOPES = frozenset({Scope.ENERGY_READ, Scope.REGISTRY_READ, Scope.ECONOMIC_READ})


@dataclass(frozen=True)
class ClientPrincipal:
    """A registered client: a platform service (every community) or a partner (one)."""

    client_id: str
    scopes: frozenset[str]
    community_id: int | None  # the partner's community; None for a platform service
    token_id: str

    def check_community(self, community_id: int) -> None:
        """A partner asking about another community gets the 404 a stranger would."""
        if self.community_id is not None and self.community_id != community_id:
            raise ApiError(404, "not_found", "community not found")


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
        claims, kid, key = await self._decode(token)
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
            issued_at=float(claims["iat"]),
        )
        if self._verified is not None:
            self._verified[token] = _Verified(principal, float(claims["exp"]), kid, key)
        return principal

    async def verify_client(self, token: str) -> ClientPrincipal:
        """A client-credentials token (see `ClientPrincipal`); a user's token is refused."""
        claims, _, _ = await self._decode(token)
        if claims.get("token_use") != CLIENT_TOKEN_USE:
            raise ApiError(
                403, "client_token_required", "this route is for registered clients only"
            )
        community = claims.get("community_id")
        if (
            not str(claims["sub"]).startswith(CLIENT_SUBJECT_PREFIX)
            or not isinstance(claims.get("scope"), str)
            or not (community is None or type(community) is int)
        ):
            raise _unauthorized("malformed client token")
        return ClientPrincipal(
            client_id=str(claims["sub"]).removeprefix(CLIENT_SUBJECT_PREFIX),
            scopes=frozenset(claims["scope"].split()),
            community_id=community,
            token_id=str(claims["jti"]),
        )

    async def _decode(self, token: str) -> tuple[dict[str, Any], str, Any]:
        """The verified claims, and the kid and key that verified them."""
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
            claims: dict[str, Any] = jwt.decode(
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
        return claims, str(header.get("kid", "")), key


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


def scope_bearer_token(scope: MutableMapping[str, Any]) -> str | None:
    """The token as :func:`bearer_token` reads it from an ASGI scope's headers;
    None where it would refuse (for a middleware that hands refusals on)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


async def principal_for(state: Any, token: str) -> Principal:
    """Who sends ``token`` to the app whose state is ``state``: what
    ``CurrentPrincipal`` gives an endpoint, and what a shortcut answering before
    routing must check the same way. 401 for a token the app's verifier refuses
    or whose account was deactivated after it was issued."""
    verifier: TokenVerifier = state.token_verifier
    principal = await verifier.verify(token)
    # A deactivated account's tokens stay valid until they expire; the status
    # from user-status.v1 (cerc_shared.user_status) refuses them sooner.
    status = getattr(state, "user_status", None)
    if status is not None and status.refuses(principal.user_id, principal.issued_at):
        raise _unauthorized("this account has been deactivated")
    return principal


async def _current_principal(request: Request) -> Principal:
    principal = await principal_for(request.app.state, bearer_token(request))
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


def require_client_scope(scope: Scope) -> Any:
    """A dependency for internal routes: a client token that carries `scope`, or 401/403.

    `client: Annotated[ClientPrincipal, require_client_scope(Scope.ENERGY_READ)]`; the route
    still calls `client.check_community(...)` for what it returns.
    """

    async def client_with_scope(request: Request) -> ClientPrincipal:
        verifier: TokenVerifier = request.app.state.token_verifier
        client = await verifier.verify_client(bearer_token(request))
        if scope not in client.scopes:
            raise ApiError(
                403,
                "insufficient_scope",
                f"this route needs the scope {scope.value}",
                expected=scope.value,
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope.value}"'
                },
            )
        request.state.client = client
        return client

    return Depends(client_with_scope)
