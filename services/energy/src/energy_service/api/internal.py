"""``GET /internal/energy/pod-hours/?community_id&month``: per POD of a community
month, the hourly fed-in and withdrawn energy with the source of each hour
(official > manual > iot), and whether official data is complete.

Internal: the economic service settles from it. Never routed by the gateway
(its prefix is not /api/), and only a client token with ``energy:read`` is
accepted; a partner bound to another community gets 404.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated

from cerc_shared.auth import ClientPrincipal, Scope, require_client_scope
from cerc_shared.db import DbSession
from cerc_shared.envelope import ApiError, Envelope, ok
from fastapi import APIRouter, Query
from pydantic import BaseModel

from energy_service.api.deps import Store
from energy_service.completeness import completeness, month_bounds
from energy_service.models import registry
from energy_service.quantities import QUARTER_HOUR_S, quarters_of, settle
from energy_service.timeseries import SeriesQuery

router = APIRouter(prefix="/internal/energy", tags=["internal"])


class PodHourOut(BaseModel):
    start: str  # the hour's start, ISO 8601 in UTC
    fed_in_kwh: float
    withdrawn_kwh: float
    source: str


class PodHoursOut(BaseModel):
    pod: str
    plant_id: int
    hours: list[PodHourOut]


class CommunityMonthOut(BaseModel):
    community_id: int
    month: str
    official_complete: bool
    pods: list[PodHoursOut]


@router.get("/pod-hours/")
async def pod_hours(
    session: DbSession,
    store: Store,
    client: Annotated[ClientPrincipal, require_client_scope(Scope.ENERGY_READ)],
    community_id: Annotated[int, Query(ge=1)],
    month: Annotated[str, Query(description="YYYY-MM", examples=["2025-03"])],
) -> Envelope[CommunityMonthOut]:
    client.check_community(community_id)
    match = re.fullmatch(r"(\d{4})-(\d{2})", month)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ApiError(422, "validation_error", "not a month", field="month", expected="YYYY-MM")
    first = date(int(match.group(1)), int(match.group(2)), 1)
    start, end = month_bounds(first)
    following = (first + timedelta(days=32)).replace(day=1)
    plants = await registry.reader(session).plant_stays(community_id, between=(first, following))
    settled = []
    if plants:
        ids = sorted({p.plant_id for p in plants})
        sums = await store.energy_sums(
            SeriesQuery(start=start, end=end, plant_ids=ids), timedelta(seconds=QUARTER_HOUR_S)
        )
        settled = settle(quarters_of(sums))
    reports = completeness(plants, settled, first, {})
    pods = {p.plant_id: p.pod for p in plants}
    hours: dict[int, list[PodHourOut]] = {plant_id: [] for plant_id in pods}
    for q in settled:
        if q.plant_id in hours:
            hours[q.plant_id].append(
                PodHourOut(
                    start=q.start.isoformat(),
                    fed_in_kwh=round(q.fed_in_kwh, 6),
                    withdrawn_kwh=round(q.withdrawn_kwh, 6),
                    source=q.source,
                )
            )
    return ok(
        CommunityMonthOut(
            community_id=community_id,
            month=month,
            official_complete=bool(reports) and all(r.complete for r in reports),
            pods=[
                PodHoursOut(pod=pods[plant_id], plant_id=plant_id, hours=hours[plant_id])
                for plant_id in sorted(pods)
            ],
        )
    )
