"""The two dashboard reads answered before routing, when they can be.

A plant's day by hour (``GET /api/energy/measurements/?plant_id=..&resolution=
hour&start=..&end=..``) and a community's kept month (``GET /api/energy/
aggregations/?by=community..``, hourly/reads.py) are read again and again
by dashboards; their own work is small next to FastAPI's routing, parameter
and dependency handling around them (py-spy at 50 clients through the
gateway: about a quarter of the service's CPU per plant read). Here the same
checks run in the same functions, without that machinery: the token through the
app's ``TokenVerifier`` and the user-status check (as ``CurrentPrincipal``),
the caller's reading scope or community perimeter from the caches the
endpoints fill (``reading_scope``, ``CommunityReads``), the range through the
endpoints' own ``resolve_range``/``_range``, the body as the endpoints build it.

Only the plain shape is taken: the parameters each endpoint knows, each once,
each of the form it accepts, no ``device_id``/``source`` filter, no raw
readings, no CSV. Anything else goes on to the endpoint, which answers it: a
miss in a cache (the endpoint computes and fills it), any refusal or error (its
envelope, status and headers are the endpoint's), another path. Take this
middleware away and every answer is the same, only slower.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

from cerc_shared.app import send_json
from cerc_shared.auth import Principal, principal_for, scope_bearer_token
from cerc_shared.clock import italian_today
from cerc_shared.envelope import PageMeta
from cerc_shared.ids import MAX_BIGINT
from pydantic import AwareDatetime, TypeAdapter
from starlette.types import ASGIApp, Receive, Scope, Send

from energy_service import service
from energy_service.api.aggregations import _range
from energy_service.api.measurements import Measurements
from energy_service.hourly.reads import CommunityReads, KeptAnswers, perimeter_key
from energy_service.hourly.repository import plant_stamp
from energy_service.scope_cache import ScopeCache
from energy_service.service import MeasurementFilter, ReadingScope

MEASUREMENTS = "/api/energy/measurements/"
AGGREGATIONS = "/api/energy/aggregations/"
# Metrics label the answer with the route it stands for.
MEASUREMENTS_ROUTE = SimpleNamespace(path=MEASUREMENTS)
AGGREGATIONS_ROUTE = SimpleNamespace(path=AGGREGATIONS)
HOUR = timedelta(hours=1)
_ID = re.compile(r"[1-9][0-9]{0,18}")
_INSTANT = TypeAdapter(AwareDatetime)
BUCKETED = frozenset(("15min", "hour", "day", "month"))
AGGREGATED = frozenset(("hour", "day", "month", "year"))


class DashboardShortcut:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = scope["path"]
            body = None
            if path == MEASUREMENTS:
                body = await _quietly(_plant_read(scope))
            elif path == AGGREGATIONS:
                body = await _quietly(_community_read(scope))
            if body is not None:
                scope["route"] = MEASUREMENTS_ROUTE if path == MEASUREMENTS else AGGREGATIONS_ROUTE
                await send_json(send, body)
                return
        await self.app(scope, receive, send)


async def _quietly(read: Any) -> bytes | None:
    # Whatever goes wrong here, the endpoint does again and answers as it does.
    try:
        body: bytes | None = await read
    except Exception:
        return None
    return body


async def _principal(scope: Scope) -> Principal | None:
    """The caller as ``CurrentPrincipal`` has them; None without a bearer token
    (a refused one raises, and the endpoint answers it)."""
    token = scope_bearer_token(scope)
    return None if token is None else await principal_for(scope["app"].state, token)


def _params(scope: Scope, known: frozenset[str]) -> dict[str, str] | None:
    """The query's parameters if each is one of ``known`` and given once."""
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    params = dict(pairs)
    if len(params) != len(pairs) or not params.keys() <= known:
        return None
    return params


def _id(text: str | None, high: int = MAX_BIGINT) -> int | None:
    if text is None or not _ID.fullmatch(text) or int(text) > high:
        return None
    return int(text)


def _instant(text: str | None) -> datetime | None:
    return None if text is None else _INSTANT.validate_python(text)


PLANT_PARAMS = frozenset(("plant_id", "resolution", "start", "end", "page", "per_page"))


async def _plant_read(scope: Scope) -> bytes | None:
    params = _params(scope, PLANT_PARAMS)
    if params is None or params.get("resolution") not in BUCKETED:
        return None
    plant_id = _id(params.get("plant_id"))
    page = _id(params.get("page", "1"), 1_000_000)
    per_page = _id(params.get("per_page", "100"), 1000)
    if plant_id is None or page is None or per_page is None:
        return None
    principal = await _principal(scope)
    if principal is None:
        return None
    state = scope["app"].state
    scopes: ScopeCache[ReadingScope] = state.reading_scopes
    # Kept scopes only: computing one needs a session, the endpoint's.
    reading_scope = scopes.get(service.scope_key(principal, plant_id, italian_today()))
    if reading_scope is None:
        return None
    filters = MeasurementFilter(
        start=_instant(params.get("start")),
        end=_instant(params.get("end")),
        device_id=None,
        source=None,
        resolution=params["resolution"],  # type: ignore[arg-type]
    )
    kept = None
    if filters.start is not None and filters.end is not None:
        # A span given whole: the answer depends on the caller's spans and the
        # plant's readings only, so it is kept under their stamp, read before
        # computing (see hourly.reads; a reading is stored, then its hour marked).
        marks_from = filters.start.replace(minute=0, second=0, microsecond=0) - HOUR
        stamp = (
            reading_scope,
            await plant_stamp(state.read_pool, plant_id, marks_from, filters.end + HOUR),
        )
        key = (plant_id, filters.resolution, filters.start, filters.end, page, per_page)
        answers: KeptAnswers = state.plant_answers
        if (body := answers.get(key, stamp)) is not None:
            return body
        kept = (answers, key, stamp)
    items, total = await service.read_measurements(
        state.timeseries, reading_scope, filters, page=page, per_page=per_page
    )
    meta = PageMeta(page=page, per_page=per_page, total=total)
    body = Measurements(data=items, meta=meta).model_dump_json().encode()
    if kept is not None:
        kept[0].put(kept[1], kept[2], body)
    return body


COMMUNITY_PARAMS = frozenset(
    ("by", "community_id", "primary_substation", "start", "end", "resolution")
)


async def _community_read(scope: Scope) -> bytes | None:
    params = _params(scope, COMMUNITY_PARAMS)
    if params is None:
        return None
    by, resolution = params.get("by"), params.get("resolution", "hour")
    community_id = _id(params.get("community_id"))
    substation = params.get("primary_substation")
    if community_id is None or resolution not in AGGREGATED:
        return None
    if substation is not None and not 1 <= len(substation) <= 50:
        return None
    if by == "community":
        substation = None
    elif by != "substation" or substation is None:
        return None
    principal = await _principal(scope)
    if principal is None:
        return None
    start, end = _instant(params.get("start")), _instant(params.get("end"))
    first, last = _range(start, end, resolution)  # type: ignore[arg-type]
    state = scope["app"].state
    reads = CommunityReads.of(state)
    key = perimeter_key(principal, by, community_id, substation, first, last)
    perimeter = reads.perimeters.get(key)
    if perimeter is None:
        return None
    stamp = await reads.stamp(state.read_pool, community_id, perimeter, first, last)
    if stamp is None:
        return None
    return reads.answers.get((community_id, substation, first, last, resolution), stamp)
