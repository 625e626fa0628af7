"""``POST /api/economic/simulations/``: what a household or a PV plant joining would have
brought the community, and itself, over the last 12 months (computed on request, not stored)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import ApiError, Envelope, ok
from cerc_shared.ids import MAX_BIGINT
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from economic_service.service import simulations

router = APIRouter(prefix="/api/economic/simulations", tags=["simulations"])


class HouseholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    annual_kwh: Decimal = Field(gt=0, le=1_000_000, max_digits=10, decimal_places=3)
    profile: Literal["standard"] = Field(
        default="standard", description="standard: the BDEW H25 household load profile"
    )


class PlantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    power_kw: Decimal = Field(gt=0, le=1000, max_digits=10, decimal_places=3)
    technology: str = Field(default="PV", max_length=20)
    region: str = Field(max_length=40, description="the Italian region, for the place and FCzonale")
    latitude: float | None = Field(default=None, ge=35, le=48)
    longitude: float | None = Field(default=None, ge=6, le=19)


class SimulationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    community_id: int = Field(ge=1, le=MAX_BIGINT)
    household: HouseholdIn | None = None
    plant: PlantIn | None = None
    primary_substation: str | None = Field(default=None, max_length=40)
    enterprise: bool = False
    public_body: bool = False


class TotalsOut(BaseModel):
    total_cents: int
    community_cents: int
    members_cents: int
    incentive_cents: int


class NewcomerOut(BaseModel):
    as_producer_cents: int
    as_consumer_cents: int
    cents: int


class MonthOut(BaseModel):
    period: str
    before: TotalsOut
    after: TotalsOut
    newcomer: NewcomerOut
    newcomer_kwh: Decimal
    shared_energy_kwh_before: Decimal
    shared_energy_kwh_after: Decimal


class SimulationOut(BaseModel):
    community_id: int
    primary_substation: str
    newcomer_kind: str
    before: TotalsOut
    after: TotalsOut
    newcomer: NewcomerOut
    community_gain_cents: int
    months: list[MonthOut]
    skipped: list[dict[str, str]]


def _totals(t: simulations.Totals) -> TotalsOut:
    return TotalsOut(
        total_cents=t.total_cents,
        community_cents=t.community_cents,
        members_cents=t.members_cents,
        incentive_cents=t.incentive_cents,
    )


def _newcomer(n: simulations.NewcomerCents) -> NewcomerOut:
    return NewcomerOut(
        as_producer_cents=n.as_producer_cents, as_consumer_cents=n.as_consumer_cents, cents=n.cents
    )


@router.post("/")
async def simulate(
    body: SimulationIn, session: DbSession, principal: CurrentPrincipal, request: Request
) -> Envelope[SimulationOut]:
    if (body.household is None) == (body.plant is None):
        raise ApiError(422, "invalid", "say who joins: a household or a plant",
                       field="household", expected="exactly one of household, plant")  # fmt: skip
    if body.household is not None:
        newcomer = simulations.Newcomer(
            kind="household",
            annual_kwh=body.household.annual_kwh,
            primary_substation=body.primary_substation,
            enterprise=body.enterprise,
            public_body=body.public_body,
        )
    else:
        assert body.plant is not None
        newcomer = simulations.Newcomer(
            kind="plant",
            power_kw=body.plant.power_kw,
            technology=body.plant.technology.upper(),
            region=body.plant.region,
            latitude=body.plant.latitude,
            longitude=body.plant.longitude,
            primary_substation=body.primary_substation,
            enterprise=body.enterprise,
            public_body=body.public_body,
        )
    energy = request.app.state.settlement_jobs.energy
    result = await simulations.simulate(session, principal, body.community_id, newcomer, energy)
    return ok(
        SimulationOut(
            community_id=result.community_id,
            primary_substation=result.primary_substation,
            newcomer_kind=newcomer.kind,
            before=_totals(result.before),
            after=_totals(result.after),
            newcomer=_newcomer(result.newcomer),
            community_gain_cents=result.after.total_cents - result.before.total_cents,
            months=[
                MonthOut(
                    period=m.period,
                    before=_totals(m.before),
                    after=_totals(m.after),
                    newcomer=_newcomer(m.newcomer),
                    newcomer_kwh=m.newcomer_kwh,
                    shared_energy_kwh_before=m.shared_energy_kwh_before,
                    shared_energy_kwh_after=m.shared_energy_kwh_after,
                )
                for m in result.months
            ],
            skipped=result.skipped,
        )
    )
