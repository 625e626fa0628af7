"""Repeated reads answered before routing.

A GET of a community's summary (``/api/cer/{id}/``) or of a page of its plants
(``/api/plants/?cer_id=...``) that the endpoint has already answered for this
registry version, or of a page of plants across the caller's communities
(``/api/plants/`` without ``cer_id``, anyone but a platform admin) answered for
these communities' versions and the caller's roles in them (a view), is served
from the read cache here, without FastAPI's parameter and dependency machinery,
which costs more than the answer itself. The checks are the endpoint's own, in
the same functions: the token (``TokenVerifier``), the caller's standing and
the registry versions (``service.readable_stamp`` / ``readable_view``), and the
key (``service.summary_key`` / ``plants_key`` / ``plants_view_key``). Anything
else (a miss, a refusal, another path) goes on to the endpoint, which answers
it, refusals included, and stores what it computed.
Take this middleware away and every answer is the same, only slower.

It also keeps the registry watch (registry_watch.py) true to this process's
own writes: a request that may write (anything but GET, HEAD, OPTIONS) makes
the watch forget every stamp once the endpoint is done (its transaction is
committed before the response starts) and before the answer leaves, so the
caller's next read never meets a stamp from before its write.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from urllib.parse import parse_qsl

from cerc_shared.app import send_json
from cerc_shared.auth import principal_for, scope_bearer_token
from cerc_shared.envelope import ApiError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cer_service import service

READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})
SUMMARY = re.compile(r"/api/cer/([1-9][0-9]{0,17})/")
PLANTS = "/api/plants/"
# Metrics label the answer with the route it stands for.
SUMMARY_ROUTE = SimpleNamespace(path="/api/cer/{cer_id}/")
PLANTS_ROUTE = SimpleNamespace(path="/api/plants/")


class CachedReads:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            body = await self._cached(scope)
            if body is not None:
                await send_json(send, body)
                return
        if scope["type"] == "http" and scope["method"] not in READ_ONLY:
            await self.app(scope, receive, _forgetting_first(scope, send))
            return
        await self.app(scope, receive, send)

    async def _cached(self, scope: Scope) -> bytes | None:
        path: str = scope["path"]
        summary = SUMMARY.fullmatch(path)
        if summary is None and path != PLANTS:
            return None
        token = scope_bearer_token(scope)
        if token is None:
            return None
        state = scope["app"].state
        reads = service.Reads.of(state)
        try:
            principal = await principal_for(state, token)
            if summary is not None:
                community_id = int(summary.group(1))
                stamp = await service.readable_stamp(reads, principal, community_id)
                key, route = service.summary_key(community_id, stamp), SUMMARY_ROUTE
            else:
                found = _plants_key(scope)
                if found is None:
                    return None
                asked_for, asked = found
                if asked_for is not None:
                    stamp = await service.readable_stamp(reads, principal, asked_for)
                    key = service.plants_key(asked_for, stamp, principal, asked)
                elif principal.is_platform_admin:
                    return None  # every plant: no version covers that page
                else:
                    view = await service.readable_view(reads, principal)
                    key = service.plants_view_key(view, principal, asked)
                route = PLANTS_ROUTE
        except ApiError:
            return None  # the endpoint gives the refusal its proper answer
        body = reads.cache.get(key)
        if body is not None:
            scope["route"] = route
        return body


def _forgetting_first(scope: Scope, send: Send) -> Send:
    async def forget_then_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            watch = scope["app"].state.cer_context.watch
            if watch is not None:
                watch.forget_all()
        await send(message)

    return forget_then_send


def _plants_key(scope: Scope) -> tuple[int | None, service.QueryItems] | None:
    """The community asked for (None: every one the caller may read) and the query."""
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    cer_ids = [value for name, value in pairs if name == "cer_id"]
    if not cer_ids:
        return None, service.query_items(pairs)
    if len(cer_ids) != 1 or not cer_ids[0].isdigit() or len(cer_ids[0]) > 18:
        return None
    community_id = int(cer_ids[0])
    if community_id < 1:
        return None
    return community_id, service.query_items(pairs)
