"""``GET /api/energy/completeness/?community_id&month``: which POD-hours of a
month are missing or only estimated, per source, before settlement."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, ok
from cerc_shared.ids import QueryId
from fastapi import APIRouter, Query
from pydantic import BaseModel

from energy_service import service
from energy_service.api.deps import Store

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
    reports = (
        await service.community_month(session, store, community_id, service.month_of(month))
    ).reports
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
