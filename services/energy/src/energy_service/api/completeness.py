"""``GET /api/energy/completeness/?community_id&month``: which POD-hours of a
month are missing or only estimated, per source, before settlement."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import ApiError, Envelope, ok
from cerc_shared.ids import QueryId
from fastapi import APIRouter, Query
from pydantic import BaseModel

from energy_service import service
from energy_service.api.deps import Store
from energy_service.completeness import completeness, month_bounds
from energy_service.imports.repository import ImportRepository
from energy_service.models import registry
from energy_service.quantities import QUARTER_HOUR_S, quarters_of, settle
from energy_service.timeseries import SeriesQuery

router = APIRouter(prefix="/api/energy", tags=["completeness"])


class PodCompletenessOut(BaseModel):
    plant_id: int
    pod: str
    hours: int
    # Hours by the source that supplies them (official > manual > iot), or missing.
    by_source: dict[str, int]
    # Official hours the distributor marked as estimated.
    estimated_hours: int
    complete: bool
    incomplete_days: list[date]


class CompletenessOut(BaseModel):
    community_id: int
    month: str
    # Every active POD-hour official and none estimated: ready for settlement.
    complete: bool
    hours: int
    official_hours: int
    estimated_hours: int
    missing_hours: int
    pods: list[PodCompletenessOut]


@router.get("/completeness/")
async def month_completeness(
    session: DbSession,
    principal: CurrentPrincipal,
    store: Store,
    community_id: QueryId,
    month: Annotated[str, Query(description="YYYY-MM", examples=["2025-03"])],
) -> Envelope[CompletenessOut]:
    await service.require_community_manager(session, principal, community_id)
    match = re.fullmatch(r"(\d{4})-(\d{2})", month)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ApiError(422, "validation_error", "not a month", field="month", expected="YYYY-MM")
    first = date(int(match.group(1)), int(match.group(2)), 1)
    start, end = month_bounds(first)
    following = (first + timedelta(days=32)).replace(day=1)
    plants = await registry.reader(session).plant_stays(community_id, between=(first, following))
    settled = []
    estimated: dict[int, set[date]] = {}
    if plants:
        ids = sorted({p.plant_id for p in plants})
        sums = await store.energy_sums(
            SeriesQuery(start=start, end=end, plant_ids=ids), timedelta(seconds=QUARTER_HOUR_S)
        )
        settled = settle(quarters_of(sums))
        for (plant_id, _, curve_month), curve in (
            await ImportRepository(session).current_curves(ids)
        ).items():
            if curve_month == first:
                estimated.setdefault(plant_id, set()).update(curve.estimated_days or [])
    reports = completeness(plants, settled, first, estimated)
    return ok(
        CompletenessOut(
            community_id=community_id,
            month=month,
            complete=all(r.complete for r in reports),
            hours=sum(r.hours for r in reports),
            official_hours=sum(r.by_source["official"] for r in reports),
            estimated_hours=sum(r.estimated_hours for r in reports),
            missing_hours=sum(r.by_source["missing"] for r in reports),
            pods=[
                PodCompletenessOut(
                    plant_id=r.plant_id,
                    pod=r.pod,
                    hours=r.hours,
                    by_source=r.by_source,
                    estimated_hours=r.estimated_hours,
                    complete=r.complete,
                    incomplete_days=sorted(r.incomplete_days),
                )
                for r in reports
            ],
        )
    )
