"""``GET /internal/energy/pod-hours/?community_id&month``: per POD of a community
month, the hourly fed-in and withdrawn energy with the source of each hour
(official > manual > iot), and whether official data is complete.

Internal: the economic service settles from it. Never routed by the gateway
(its prefix is not /api/), and only a client token with ``energy:read`` is
accepted; a partner bound to another community gets 404.
"""

from __future__ import annotations

from typing import Annotated

from cerc_shared.auth import ClientPrincipal, Scope, require_client_scope
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, ok
from cerc_shared.ids import QueryId
from fastapi import APIRouter, Query
from pydantic import BaseModel

from energy_service import service
from energy_service.api.deps import Store

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
    community_id: QueryId,
    month: Annotated[str, Query(description="YYYY-MM", examples=["2025-03"])],
) -> Envelope[CommunityMonthOut]:
    client.check_community(community_id)
    found = await service.community_month(session, store, community_id, service.month_of(month))
    plants, settled, reports = found.plants, found.settled, found.reports
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
