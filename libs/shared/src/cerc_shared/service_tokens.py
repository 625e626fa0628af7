"""A service's own access token: OAuth 2.0 client credentials (RFC 6749 §4.4).

A service calling another's internal route (economic → energy, economic → cer for
IBANs) authenticates as a registered client at the user service's
``POST /api/auth/token/`` and sends the token it got as ``Bearer``. The token is
kept until shortly before it expires (client tokens live 15 minutes), so a busy
service asks the user service a few times an hour, not once a call; concurrent
callers share one request (an ``asyncio.Lock``), and a call answered 401 drops the
token (``invalidate``) so the next call asks again, e.g. after a key rotation::

    tokens = ClientCredentials(settings.token_url, settings.client_id, settings.client_secret)
    response = await http.get(url, headers=await tokens.headers())
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

#: A token is refreshed this long before it expires (or at half its life, if shorter),
#: so a request never leaves with a token about to expire on the way.
REFRESH_MARGIN_S = 60.0


class ClientTokenError(RuntimeError):
    """No token: the user service is unreachable, or refused the client (then ``error``
    is RFC 6749 §5.2's code, e.g. ``invalid_client``, ``invalid_scope``)."""

    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


@dataclass(frozen=True)
class _Held:
    access_token: str
    scope: str
    refresh_at: float  # on the monotonic clock


class ClientCredentials:
    """Client-credential tokens for one client, fetched on demand and cached."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        timeout_s: float = 10.0,
        refresh_margin_s: float = REFRESH_MARGIN_S,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("a client-credentials token source needs a client id and secret")
        self._url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._scope = scope
        self._timeout = timeout_s
        self._margin = refresh_margin_s
        self._transport = transport
        self._clock = clock
        self._held: _Held | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many times the user service was asked (for tests and metrics)

    @property
    def client_id(self) -> str:
        return self._client_id

    async def token(self) -> str:
        """A valid access token, from the cache or freshly fetched."""
        held = self._held
        if held is not None and self._clock() < held.refresh_at:
            return held.access_token
        async with self._lock:
            # Another caller may have refreshed while this one waited for the lock.
            held = self._held
            if held is None or self._clock() >= held.refresh_at:
                held = self._held = await self._fetch()
            return held.access_token

    async def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token()}"}

    def invalidate(self) -> None:
        """Forget the token (the callee answered 401): the next call fetches a new one."""
        self._held = None

    async def send(
        self, send: Callable[[dict[str, str]], Awaitable[httpx.Response]]
    ) -> httpx.Response:
        """``send(headers)`` with the token; answered 401 (a token revoked or signed
        with a rotated key), once more with a fresh one."""
        response = await send(await self.headers())
        if response.status_code == 401:
            self.invalidate()
            response = await send(await self.headers())
        return response

    async def _fetch(self) -> _Held:
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        asked_at = self._clock()
        try:
            async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as http:
                response = await http.post(
                    self._url, data=form, auth=httpx.BasicAuth(self._client_id, self._secret)
                )
        except httpx.HTTPError as exc:
            raise ClientTokenError(f"token endpoint {self._url} unreachable: {exc}") from exc
        self.fetches += 1
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200:
            error = body.get("error") if isinstance(body, dict) else None
            described = body.get("error_description") if isinstance(body, dict) else None
            raise ClientTokenError(
                f"token endpoint refused client {self._client_id}: "
                f"{response.status_code} {error or ''} {described or response.text[:200]}".strip(),
                error=error if isinstance(error, str) else None,
            )
        try:
            access_token = str(body["access_token"])
            expires_in = float(body["expires_in"])
            if body.get("token_type", "Bearer").lower() != "bearer" or expires_in <= 0:
                raise ValueError(f"token_type {body.get('token_type')!r}, expires_in {expires_in}")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ClientTokenError(f"token endpoint answer not understood: {exc!r}") from exc
        # Counted from when it was asked for: the answer's travel time is already spent.
        lifetime = max(expires_in - self._margin, expires_in / 2)
        return _Held(access_token, str(body.get("scope", "")), asked_at + lifetime)
