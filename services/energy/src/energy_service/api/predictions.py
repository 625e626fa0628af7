"""``GET /api/energy/predictions/``: the next 48 hours of a plant or a community (forecast.py):
PV production, consumption, grid exchange, shared energy and the best hours to consume.

A plant: whoever may read it (its owner, its community's administrators). A community: any
member (the best hours are for members), community totals only, never another member's plant.
Anyone else gets 404, as everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.clock import ITALY, italian_today
from cerc_shared.db import DbSession
from cerc_shared.envelope import ApiError, Envelope, ok
from cerc_shared.ids import OptionalQueryId
from cerc_shared.readmodels import PlantFacts
from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from energy_service import service
from energy_service.api.deps import Store
from energy_service.forecast import (
    BEST_HOURS,
    HORIZON_HOURS,
    Forecast,
    ForecastPlant,
    HourForecast,
    forecast,
    history_start,
    hour_floor,
)
from energy_service.models import registry
from energy_service.quantities import quarters_of, settle
from energy_service.timeseries import SeriesQuery

router = APIRouter(prefix="/api/energy", tags=["predictions"])


class PredictedHourOut(BaseModel):
    """One hour ``[start, end)`` in Europe/Rome. ``shared_kwh``: a community's expected shared
    energy (None for a plant); ``surplus_kwh``: fed-in no withdrawal matches, which consuming
    then would turn into shared (a community) or self-consumed (a plant) energy."""

    start: datetime
    end: datetime
    pv_kwh: float
    consumption_kwh: float
    fed_in_kwh: float
    withdrawn_kwh: float
    shared_kwh: float | None
    surplus_kwh: float


class BestHourOut(BaseModel):
    start: datetime
    end: datetime
    surplus_kwh: float


class PredictionOut(BaseModel):
    by: Literal["plant", "community"]
    plant_id: int | None
    community_id: int | None
    generated_at: datetime
    # A plant: its performance ratio (measured over clear-sky PV in the recent weeks) and
    # where it and the consumption came from (history, default/standard_profile, none).
    performance_ratio: float | None
    performance_ratio_basis: str | None
    consumption_basis: str | None
    plants: int
    hours: list[PredictedHourOut]
    # Greatest surplus first; empty when no hour has any.
    best_hours: list[BestHourOut]


def _forecast_plant(plant: PlantFacts) -> ForecastPlant:
    return ForecastPlant(
        plant_id=plant.plant_id,
        plant_type=plant.plant_type,
        technology=plant.technology,
        nominal_power_kw=float(plant.nominal_power_kw) if plant.nominal_power_kw else None,
        region=plant.region,
        primary_substation=plant.primary_substation,
    )


def _hour(h: HourForecast, *, with_shared: bool) -> PredictedHourOut:
    return PredictedHourOut(
        start=h.start.astimezone(ITALY),
        end=(h.start + timedelta(hours=1)).astimezone(ITALY),
        pv_kwh=round(h.pv_kwh, 6),
        consumption_kwh=round(h.consumption_kwh, 6),
        fed_in_kwh=round(h.fed_in_kwh, 6),
        withdrawn_kwh=round(h.withdrawn_kwh, 6),
        shared_kwh=round(h.shared_kwh, 6) if with_shared else None,
        surplus_kwh=round(h.surplus_kwh, 6),
    )


@router.get("/predictions/", response_model=Envelope[PredictionOut])
async def predictions(
    session: DbSession,
    principal: CurrentPrincipal,
    store: Store,
    by: Annotated[Literal["plant", "community"], Query(description="plant or community")],
    plant_id: OptionalQueryId = None,
    community_id: OptionalQueryId = None,
) -> Envelope[PredictionOut]:
    now = datetime.now(UTC)
    if by == "plant":
        if plant_id is None:
            raise ApiError(422, "validation_error", "by=plant needs plant_id", field="plant_id")
        plants = [await service.readable_plant(session, principal, plant_id)]
    else:
        if community_id is None:
            raise ApiError(
                422, "validation_error", "by=community needs community_id", field="community_id"
            )
        today = italian_today(now)
        await service.require_community_member(session, principal, community_id, today)
        reader = registry.reader(session)
        # The plants in the community on any local day the 48 hours touch.
        stays = await reader.plants_of_community(
            community_id, between=(today, today + timedelta(days=3))
        )
        plants = list((await reader.plants(s.plant_id for s in stays)).values())
    first = hour_floor(now)
    settled = []
    if plants:
        sums = await store.energy_sums(
            SeriesQuery(
                start=history_start(now), end=first, plant_ids=sorted(p.plant_id for p in plants)
            ),
            timedelta(hours=1),
        )
        settled = settle(quarters_of(sums), 3600)
    # pvlib's clear sky is CPU work: out of the event loop.
    result: Forecast = await run_in_threadpool(
        forecast, [_forecast_plant(p) for p in plants], settled, now, hours=HORIZON_HOURS
    )
    single = result.plants[0] if by == "plant" and result.plants else None
    return ok(
        PredictionOut(
            by=by,
            plant_id=plant_id if by == "plant" else None,
            community_id=community_id if by == "community" else None,
            generated_at=now.astimezone(ITALY),
            performance_ratio=(
                round(single.performance_ratio, 4)
                if single and single.performance_ratio is not None
                else None
            ),
            performance_ratio_basis=single.performance_ratio_basis if single else None,
            consumption_basis=single.consumption_basis if single else None,
            plants=len(plants),
            hours=[_hour(h, with_shared=by == "community") for h in result.hours],
            best_hours=[
                BestHourOut(
                    start=h.start.astimezone(ITALY),
                    end=(h.start + timedelta(hours=1)).astimezone(ITALY),
                    surplus_kwh=round(h.surplus_kwh, 6),
                )
                for h in result.best_hours(BEST_HOURS)
            ],
        )
    )
