"""``GET /api/energy/live/?community_id=``: the community's live shared energy
as Server-Sent Events, one ``live`` event per change (at most one per
``live_min_interval_s``) and a comment every ``live_keepalive_s`` so proxies
keep an idle stream open. Members of the community only (any role)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import orjson
from cerc_shared.auth import CurrentPrincipal
from cerc_shared.clock import italian_today
from cerc_shared.db import DbSession
from cerc_shared.ids import QueryId
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from energy_service.live import LiveSettings, LiveTally, places_of
from energy_service.models import registry
from energy_service.service import require_community_member

router = APIRouter(prefix="/api/energy", tags=["live"])


@router.get(
    "/live/",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def live_shared_energy(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    community_id: QueryId,
) -> StreamingResponse:
    today = italian_today()
    await require_community_member(session, principal, community_id, today)
    tally: LiveTally = request.app.state.live_tally
    # The community's plants (their stays that cover today) are known to the
    # tally from now on, whatever the periodic refresh has seen so far.
    tally.directory.merge(
        places_of(
            await registry.reader(session).plant_stays(
                community_id, between=(today, today + timedelta(days=1))
            )
        )
    )
    settings: LiveSettings = request.app.state.live_settings
    return StreamingResponse(
        _events(request, tally, community_id, settings.keepalive_s, settings.min_interval_s),
        media_type="text/event-stream",
        # No cache, and no buffering by a proxy that honours the header.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    request: Request,
    tally: LiveTally,
    community_id: int,
    keepalive_s: float,
    min_interval_s: float,
) -> AsyncIterator[bytes]:
    changed = tally.watch(community_id)
    try:
        while not await request.is_disconnected():
            try:
                await asyncio.wait_for(changed.wait(), keepalive_s)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            changed.clear()
            snapshot = tally.snapshot(community_id)
            yield (
                b"event: live\nid: "
                + str(snapshot["version"]).encode()
                + b"\ndata: "
                + orjson.dumps(snapshot)
                + b"\n\n"
            )
            if min_interval_s > 0:
                await asyncio.sleep(min_interval_s)
    finally:
        with contextlib.suppress(Exception):
            tally.unwatch(community_id, changed)
