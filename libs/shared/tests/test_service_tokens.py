"""The client-credentials token source's own logic: caching until shortly before expiry,
one fetch for concurrent callers, refusals as errors. The token endpoint here is an
``httpx.MockTransport`` handler; the same source against the real user service is in
services/user/tests/test_clients.py."""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import parse_qsl

import httpx
import pytest
from cerc_shared.service_tokens import ClientCredentials, ClientTokenError

URL = "http://user/api/auth/token/"


class Endpoint:
    def __init__(self, expires_in: int = 900) -> None:
        self.expires_in = expires_in
        self.calls: list[httpx.Request] = []
        self.answer: httpx.Response | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        await asyncio.sleep(0.01)  # a real round trip: concurrent callers overlap
        if self.answer is not None:
            return self.answer
        return httpx.Response(
            200,
            json={
                "access_token": f"token-{len(self.calls)}",
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "scope": "energy:read",
            },
        )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def source(endpoint: Endpoint, clock: Clock, **kwargs: object) -> ClientCredentials:
    return ClientCredentials(
        URL,
        "cerc-econ",
        "s3cret:with/odd chars",
        transport=httpx.MockTransport(endpoint),
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_the_token_is_cached_until_a_minute_before_it_expires() -> None:
    endpoint, clock = Endpoint(expires_in=900), Clock()
    tokens = source(endpoint, clock)
    assert await tokens.token() == "token-1"
    clock.now += 839
    assert await tokens.token() == "token-1"
    assert len(endpoint.calls) == 1
    clock.now += 1  # 840 s = 900 - 60: refreshed before it can expire on the way
    assert await tokens.headers() == {"Authorization": "Bearer token-2"}
    assert len(endpoint.calls) == 2 and tokens.fetches == 2


async def test_a_short_lived_token_is_refreshed_at_half_its_life() -> None:
    endpoint, clock = Endpoint(expires_in=60), Clock()
    tokens = source(endpoint, clock)
    await tokens.token()
    clock.now += 29
    assert await tokens.token() == "token-1"
    clock.now += 1
    assert await tokens.token() == "token-2"


async def test_the_request_is_rfc_6749_client_credentials_with_basic_auth() -> None:
    endpoint, clock = Endpoint(), Clock()
    await source(endpoint, clock, scope="energy:read registry:read-iban").token()
    request = endpoint.calls[0]
    assert request.method == "POST" and str(request.url) == URL
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = dict(parse_qsl(request.content.decode()))
    assert form == {"grant_type": "client_credentials", "scope": "energy:read registry:read-iban"}
    scheme, encoded = request.headers["authorization"].split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == "cerc-econ:s3cret:with/odd chars"


async def test_concurrent_callers_share_one_fetch() -> None:
    endpoint, clock = Endpoint(), Clock()
    tokens = source(endpoint, clock)
    got = await asyncio.gather(*(tokens.token() for _ in range(20)))
    assert set(got) == {"token-1"} and len(endpoint.calls) == 1


async def test_invalidate_fetches_again() -> None:
    endpoint, clock = Endpoint(), Clock()
    tokens = source(endpoint, clock)
    await tokens.token()
    tokens.invalidate()
    assert await tokens.token() == "token-2"


async def test_a_refusal_is_an_error_naming_the_oauth_code_and_nothing_is_cached() -> None:
    endpoint, clock = Endpoint(), Clock()
    endpoint.answer = httpx.Response(
        401, json={"success": False, "error": "invalid_client", "error_description": "no"}
    )
    tokens = source(endpoint, clock)
    with pytest.raises(ClientTokenError) as refused:
        await tokens.token()
    assert refused.value.error == "invalid_client" and "cerc-econ" in str(refused.value)
    endpoint.answer = None
    assert await tokens.token() == "token-2"


@pytest.mark.parametrize(
    "body",
    [
        {"token_type": "Bearer", "expires_in": 900},
        {"access_token": "t", "token_type": "Bearer", "expires_in": "soon"},
        {"access_token": "t", "token_type": "MAC", "expires_in": 900},
        {"access_token": "t", "token_type": "Bearer", "expires_in": 0},
        ["not", "an", "object"],
    ],
)
async def test_an_answer_not_understood_is_an_error(body: object) -> None:
    endpoint, clock = Endpoint(), Clock()
    endpoint.answer = httpx.Response(200, json=body)
    with pytest.raises(ClientTokenError, match="not understood"):
        await source(endpoint, clock).token()


async def test_an_unreachable_endpoint_is_an_error() -> None:
    tokens = ClientCredentials("http://127.0.0.1:9/api/auth/token/", "c", "s", timeout_s=2)
    with pytest.raises(ClientTokenError, match="unreachable"):
        await tokens.token()


def test_a_source_without_credentials_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="client id and secret"):
        ClientCredentials(URL, "", "secret")
