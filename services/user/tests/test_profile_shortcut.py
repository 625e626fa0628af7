"""GET /api/users/me/ answered before routing (api/shortcut.py): the same
answer as the endpoint's, and every refusal left to the endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from cerc_shared.events import EventEnvelope
from cerc_shared.events.user import UserStatusChanged
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send
from user_service.api.shortcut import ProfileShortcut

from .conftest import bearer, register_and_login

ME = "/api/users/me/"


@dataclass
class Paths:
    """The app as it runs (``fast``), the app from just inside the shortcut
    (``slow``: routing, dependencies, the endpoint and its error handlers), and
    the requests the shortcut handed on."""

    fast: httpx.AsyncClient
    slow: httpx.AsyncClient
    handed_on: list[str] = field(default_factory=list)

    async def both(self, headers: dict[str, str]) -> tuple[httpx.Response, httpx.Response]:
        self.handed_on.clear()
        fast = await self.fast.get(ME, headers=headers)
        handed_on = list(self.handed_on)
        slow = await self.slow.get(ME, headers=headers)
        self.handed_on[:] = handed_on
        return fast, slow


def _shortcut(app: FastAPI) -> ProfileShortcut:
    layer: object = app.middleware_stack
    while not isinstance(layer, ProfileShortcut):
        layer = getattr(layer, "app")  # noqa: B009 - each middleware wraps the next as .app
    return layer


@pytest.fixture
async def paths(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Paths]:
    await client.get("/healthz")  # builds the middleware stack
    shortcut = _shortcut(app)
    inner: ASGIApp = shortcut.app
    handed_on: list[str] = []

    async def counted(scope: Scope, receive: Receive, send: Send) -> None:
        handed_on.append(scope["path"])
        await inner(scope, receive, send)

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = app  # as the app itself sets it before its middleware
        await inner(scope, receive, send)

    monkeypatch.setattr(shortcut, "app", counted)
    transport = httpx.ASGITransport(app=endpoint)
    async with httpx.AsyncClient(transport=transport, base_url="http://user") as slow:
        yield Paths(fast=client, slow=slow, handed_on=handed_on)


def _same(fast: httpx.Response, slow: httpx.Response) -> None:
    assert fast.status_code == slow.status_code
    assert fast.content == slow.content
    for header in ("content-type", "content-length", "www-authenticate"):
        assert fast.headers.get(header) == slow.headers.get(header), header


async def test_the_shortcut_answers_the_profile_as_the_endpoint_does(
    paths: Paths, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tokens = await register_and_login(paths.fast)
    fast, slow = await paths.both(bearer(tokens))
    assert paths.handed_on == []  # answered before routing
    assert fast.status_code == 200 and fast.json()["data"]["username"] == "mario"
    _same(fast, slow)

    # A deactivated user's token still gets what the endpoint gives it.
    async with sessionmaker() as session:
        await session.execute(text("UPDATE users SET is_active = false WHERE username = 'mario'"))
        await session.commit()
    fast, slow = await paths.both(bearer(tokens))
    assert fast.json()["data"]["is_active"] is False
    _same(fast, slow)


async def test_the_shortcut_hands_every_refusal_to_the_endpoint(
    paths: Paths, app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tokens = await register_and_login(paths.fast)
    good = tokens["access_token"]
    claims = jwt.decode(good, options={"verify_signature": False})
    key = app.state.auth_context.signing_key
    now = datetime.now(UTC)

    def signed(**changes: object) -> str:
        return jwt.encode({**claims, **changes}, key.private_key, "RS256", {"kid": key.kid})

    header, _, signature = good.split(".")
    refusals = {
        "no header": {},
        "another scheme": {"Authorization": f"Basic {good}"},
        "an empty bearer": {"Authorization": "Bearer "},
        "not a token": {"Authorization": "Bearer not-a-token"},
        "the refresh token": {"Authorization": f"Bearer {tokens['refresh_token']}"},
        "a tampered payload": {
            "Authorization": f"Bearer {header}.{signed(sub='999').split('.')[1]}.{signature}"
        },
        "expired": {
            "Authorization": f"Bearer {signed(iat=now - timedelta(hours=1), exp=now - timedelta(minutes=1))}"  # noqa: E501
        },
        "a client's token": {
            "Authorization": f"Bearer {signed(sub='client:x', token_use='client', scope='')}"
        },
    }
    for case, headers in refusals.items():
        fast, slow = await paths.both(headers)
        assert paths.handed_on == [ME], case
        assert fast.status_code == 401, case
        _same(fast, slow)

    # A valid token of an account deactivated since it was issued (user-status.v1,
    # as the kernel's cache hears of it): refused by the endpoint, so handed on.
    status = app.state.user_status
    mario = int(claims["sub"])
    status.apply(
        EventEnvelope.wrap(
            UserStatusChanged(user_id=mario, is_active=False), producer="user", correlation_id=None
        )
    )
    try:
        fast, slow = await paths.both(bearer(tokens))
    finally:
        status.apply(
            EventEnvelope.wrap(
                UserStatusChanged(user_id=mario, is_active=True),
                producer="user",
                correlation_id=None,
            )
        )
    assert paths.handed_on == [ME]
    assert fast.status_code == 401 and "deactivated" in fast.json()["errors"][0]["message"]
    _same(fast, slow)

    # A valid token whose user is gone: the endpoint's 404.
    async with sessionmaker() as session:
        await session.execute(text("DELETE FROM users WHERE username = 'mario'"))
        await session.commit()
    fast, slow = await paths.both(bearer(tokens))
    assert paths.handed_on == [ME]
    assert fast.status_code == 404 and fast.json()["errors"][0]["code"] == "not_found"
    _same(fast, slow)


async def test_other_routes_and_methods_are_not_taken(paths: Paths) -> None:
    tokens = await register_and_login(paths.fast)
    paths.handed_on.clear()
    await paths.fast.get("/api/users/me", headers=bearer(tokens))  # the redirect
    await paths.fast.patch(ME, json={}, headers=bearer(tokens))
    await paths.fast.head(ME, headers=bearer(tokens))
    assert paths.handed_on == ["/api/users/me", ME, ME]
