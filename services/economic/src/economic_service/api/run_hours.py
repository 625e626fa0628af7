"""``GET /api/economic/settlements/{id}/hours/``: a run's hourly detail per primary substation,
as the run stored it, page by page (a month of one substation is 720-745 hours)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.clock import ITALY
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, PageMeta, ok
from cerc_shared.ids import PathId
from fastapi import APIRouter, Query
from pydantic import BaseModel

from economic_service import repository
from economic_service.service import settlements

router = APIRouter(prefix="/api/economic", tags=["settlements"])

WH_PER_KWH = Decimal(1000)


class SettlementHourOut(BaseModel):
    substation: str
    hour: datetime  # local, with its offset
    hour_utc: datetime
    fed_in_kwh: Decimal
    withdrawn_kwh: Decimal
    shared_energy_kwh: Decimal
    incentivised_shared_energy_kwh: Decimal


@router.get("/settlements/{run_id}/hours/")
async def settlement_hours(
    run_id: PathId,
    session: DbSession,
    principal: CurrentPrincipal,
    substation: Annotated[str | None, Query(max_length=40)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=2000)] = 744,
) -> Envelope[list[SettlementHourOut]]:
    run = await settlements.visible_run(session, principal, run_id)
    # A FINAL run copies the PROVISIONAL run it approves: its hours are that run's.
    source_run = run.approves_run_id or run.id
    rows, total = await repository.settlement_hours_page(
        session, source_run, substation, offset=(page - 1) * per_page, limit=per_page
    )
    return ok(
        [
            SettlementHourOut(
                substation=r.substation,
                hour=r.hour_utc.astimezone(ITALY),
                hour_utc=r.hour_utc,
                fed_in_kwh=Decimal(r.fed_in_wh) / WH_PER_KWH,
                withdrawn_kwh=Decimal(r.withdrawn_wh) / WH_PER_KWH,
                shared_energy_kwh=Decimal(r.shared_wh) / WH_PER_KWH,
                incentivised_shared_energy_kwh=Decimal(r.incentivised_wh) / WH_PER_KWH,
            )
            for r in rows
        ],
        PageMeta(page=page, per_page=per_page, total=total),
    )
