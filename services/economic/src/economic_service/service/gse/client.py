"""The GSE's API as the referente calls it: OAuth 2.0 client credentials, pages,
retries with exponential backoff that honour ``Retry-After`` on 429 and 5xx, and
a circuit breaker so a GSE that is down is not hammered (nor waited on) by every
scheduled sync.

The breaker counts failed attempts (a 5xx, a timeout, a refused connection) in a
row; at ``threshold`` it opens and every call fails at once with
:class:`CircuitOpen` until ``cooldown_s`` has passed; then one call is let
through (half-open): its success closes the circuit, its failure opens it again.
A 429 is the GSE pacing us, not failing: it is retried but does not count.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"


class GseError(RuntimeError):
    """The GSE could not be used for this sync; ``code`` says why."""

    code = "gse_error"


class GseUnavailable(GseError):
    code = "gse_unavailable"


class CircuitOpen(GseError):
    code = "circuit_open"


class GseRefused(GseError):
    """A 4xx the GSE means (bad credentials, a conflict): retrying would not help."""

    code = "gse_refused"

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"the GSE answered {status}: {body[:500]}")
        self.status = status
        self.body = body


@dataclass
class CircuitBreaker:
    threshold: int
    cooldown_s: float
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    state: str = CLOSED
    opened_at: float = 0.0
    opened_count: int = 0
    history: list[str] = field(default_factory=list)  # state changes, for the status page

    def before_call(self) -> None:
        if self.state == OPEN:
            if self.clock() - self.opened_at < self.cooldown_s:
                raise CircuitOpen(
                    f"the GSE failed {self.failures} times in a row; "
                    f"not called again before {self.cooldown_s:.0f}s have passed"
                )
            self._move(HALF_OPEN)

    def succeeded(self) -> None:
        self.failures = 0
        if self.state != CLOSED:
            self._move(CLOSED)

    def failed(self) -> None:
        self.failures += 1
        if self.state == HALF_OPEN or self.failures >= self.threshold:
            self.opened_at = self.clock()
            self.opened_count += 1
            self._move(OPEN)

    def _move(self, state: str) -> None:
        self.state = state
        self.history.append(state)
        del self.history[:-20]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_base_s: float
    backoff_max_s: float
    retry_after_max_s: float

    def wait_s(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds before attempt ``attempt + 1``: Retry-After when the GSE says, else backoff."""
        if response is not None:
            said = _retry_after_s(response.headers.get("Retry-After"))
            if said is not None:
                return min(said, self.retry_after_max_s)
        return float(min(self.backoff_base_s * 2**attempt, self.backoff_max_s))


def _retry_after_s(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


@dataclass
class CallLog:
    """What the client did, for the sync job's summary."""

    attempts: int = 0
    retries: list[str] = field(default_factory=list)  # "503 GET /path waited 0.5s"


class GseClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        client_id: str,
        client_secret: str,
        breaker: CircuitBreaker,
        retry: RetryPolicy,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._breaker = breaker
        self._retry = retry
        self._sleep = sleep
        self._token: str | None = None
        self.log = CallLog()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One logical call: retried on 429, 5xx and transport errors, under the breaker."""
        last: httpx.Response | None = None
        for attempt in range(self._retry.max_attempts):
            self._breaker.before_call()
            self.log.attempts += 1
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                self._breaker.failed()
                last = None
                reason = type(exc).__name__
            else:
                if response.status_code == 429:
                    last, reason = response, "429"
                elif response.status_code >= 500:
                    self._breaker.failed()
                    last, reason = response, str(response.status_code)
                else:
                    self._breaker.succeeded()
                    return response
            if attempt + 1 == self._retry.max_attempts:
                break
            wait = self._retry.wait_s(attempt, last)
            self.log.retries.append(f"{reason} {method} {path} waited {wait:.2f}s")
            await self._sleep(wait)
        status = last.status_code if last is not None else "no answer"
        raise GseUnavailable(f"{method} {path}: {status} after {self._retry.max_attempts} attempts")

    async def _authorised(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for _ in range(2):  # a token that expired between calls: one new token, one retry
            if self._token is None:
                self._token = await self._new_token()
            headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {self._token}"}
            response = await self._send(method, path, headers=headers, **kwargs)
            if response.status_code != 401:
                return response
            self._token = None
        raise GseRefused(401, response.text)

    async def _new_token(self) -> str:
        response = await self._send(
            "POST",
            "/gse/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(self._client_id, self._client_secret),
        )
        if response.status_code != 200:
            raise GseRefused(response.status_code, response.text)
        token: str = response.json()["access_token"]
        return token

    async def get(self, path: str, **params: Any) -> Any:
        response = await self._authorised("GET", path, params=params)
        if response.status_code != 200:
            raise GseRefused(response.status_code, response.text)
        return response.json()

    async def get_optional(self, path: str) -> Any | None:
        """None for a 404 (a month not published yet), else the answer."""
        response = await self._authorised("GET", path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise GseRefused(response.status_code, response.text)
        return response.json()

    async def pages(self, path: str, **params: Any) -> list[Any]:
        """Every item of a paged list, following ``next_page``."""
        items: list[Any] = []
        page: int | None = 1
        while page is not None:
            body = await self.get(path, **params, page=page, page_size=1000)
            items.extend(body["items"])
            page = body.get("next_page")
        return items

    async def post(self, path: str, body: dict[str, Any], *, key: str | None = None) -> Any:
        """POST with the GSE's idempotency key, so a retried submission is answered, not redone."""
        headers = {"Idempotency-Key": key} if key else {}
        response = await self._authorised("POST", path, json=body, headers=headers)
        if response.status_code not in (200, 201):
            raise GseRefused(response.status_code, response.text)
        return response.json()
