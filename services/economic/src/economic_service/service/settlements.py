"""Settlement runs: requested, computed by the job worker, approved.

Kinds (cer-rules §6): ESTIMATE on any data; PROVISIONAL only when the energy
service says official data covers the month; FINAL, a PROVISIONAL approved by
a community ADMIN (a new run copying it; its distribution is posted to the
books once); ADJUSTMENT, a later run of an approved month whose difference
from the last approved figures is what counts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any

from cacer import ScenarioError, parse_scenario, settle
from cacer.report import settlement_json
from cerc_shared.auth import Principal
from cerc_shared.clock import italian_today
from cerc_shared.envelope import ApiError, NotFound
from cerc_shared.readmodels import PlantFacts
from sqlalchemy.ext.asyncio import AsyncSession

from economic_service import events, repository
from economic_service.energy import EnergySource, EnergyUnavailable
from economic_service.models import MemberResult, SettlementRun, registry
from economic_service.service import distribution, parameters, prices, run_hours
from economic_service.service.access import require_admin
from economic_service.service.engine_input import (
    EngineInput,
    InputProblem,
    build_engine_input,
    month_bounds,
    user_of,
)

KINDS = ("ESTIMATE", "PROVISIONAL", "ADJUSTMENT")
HOUR = timedelta(hours=1)
PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _bad(field: str, message: str, expected: str) -> ApiError:
    return ApiError(422, "invalid", message, field=field, expected=expected)


async def request_run(
    session: AsyncSession, principal: Principal, community_id: int, period: str, kind: str
) -> SettlementRun:
    # Found by the fuzzer: year 0000 has no calendar, and 9999-12 ends beyond it (a 500).
    if not PERIOD.match(period) or not "0001-01" <= period <= "9999-11":
        raise _bad("period", f"{period!r} is not a month", "YYYY-MM, 0001-01 to 9999-11")
    if kind not in KINDS:
        raise _bad("kind", f"{kind!r} cannot be requested", " or ".join(KINDS))
    await require_admin(session, principal, community_id)
    if await registry.reader(session).community(community_id) is None:
        raise NotFound("community")
    _, end = month_bounds(period)
    if end > italian_today():
        raise _bad("period", f"{period} has not ended yet", "a past month")
    approved = await repository.final_run(session, community_id, period)
    if kind == "ADJUSTMENT" and approved is None:
        raise ApiError(409, "not_approved", f"{period} has no FINAL run to adjust", field="kind")
    if kind != "ADJUSTMENT" and approved is not None:
        raise ApiError(
            409, "already_approved", f"{period} is approved; request an ADJUSTMENT", field="kind"
        )
    run = SettlementRun(
        community_id=community_id,
        period=period,
        kind=kind,
        status="QUEUED",
        progress=0,
        requested_by=principal.user_id,
    )
    session.add(run)
    await session.flush()
    return run


async def compute_run(session: AsyncSession, run: SettlementRun, energy: EnergySource) -> None:
    """Fill in a RUNNING run (inputs, results) or mark it FAILED with the reasons."""
    try:
        await _compute(session, run, energy)
    except InputProblem as exc:
        _fail(run, [{"code": exc.code, "message": p} for p in exc.problems])
    except ScenarioError as exc:
        _fail(
            run, [{"code": "engine", "field": p.path, "message": p.message} for p in exc.problems]
        )
    except EnergyUnavailable as exc:
        _fail(run, [{"code": "energy_unavailable", "message": str(exc)}])
    except prices.PricesMissing as exc:
        _fail(run, exc.errors())
    run.finished_at = datetime.now(UTC)
    await session.flush()
    await events.run_computed(session, run)


def _fail(run: SettlementRun, errors: list[dict[str, Any]]) -> None:
    run.status = "FAILED"
    run.errors = errors


@dataclass(frozen=True)
class MonthInput:
    """A community month as the engine takes it, and what it was built from."""

    engine_input: EngineInput
    parameters: dict[str, Any]  # what a run records: parameters in force, shares, prices
    plants: Mapping[int, PlantFacts]


async def month_input(
    session: AsyncSession,
    community_id: int,
    period: str,
    energy: EnergySource,
    *,
    official_only: bool = False,
) -> MonthInput:
    """Everything a run of ``period`` gives the engine: the registry by date, the energy
    service's hours, the zonal prices (every hour, or PricesMissing), the parameters in force."""
    reader = registry.reader(session)
    start, end = month_bounds(period)
    stays = await reader.plants_of_community(community_id, between=(start, end))
    plants = await reader.plants(stay.plant_id for stay in stays)
    memberships = await reader.memberships_of_community(community_id, between=(start, end))
    shares = await reader.shares_on(community_id, start)
    month = await energy.pod_hours(community_id, period)
    if official_only and not month.official_complete:
        raise InputProblem(
            [f"official data for {period} is not complete yet"],
            code="official_data_incomplete",
        )
    zones = {p.market_zone for p in plants.values() if p.market_zone}
    hours = prices.market_hours(start, end)
    zonal = await repository.prices_between(session, zones, hours[0], hours[-1] + HOUR)
    gaps = prices.missing_hours(zones, hours, ((zone, at) for zone, at, _, _ in zonal))
    if gaps:
        raise prices.PricesMissing(gaps)
    in_force = await parameters.in_force_for(session, start, plants)
    engine_input = build_engine_input(
        period=period,
        stays=stays,
        plants=plants,
        memberships=memberships,
        shares=shares,
        energy=month,
        prices=[(zone, at, eur) for zone, at, eur, _ in zonal],
        trase_eur_mwh=in_force.trase_eur_mwh,
        cost_cap_by_plant=in_force.cost_cap_by_plant,
    )
    recorded = {
        **in_force.record,
        "distribution": engine_input.document["distribution"],
        "prices": {
            "zones": sorted(zones),
            "hours": len(engine_input.document["prices"]),
            "sources": sorted({source for _, _, _, source in zonal}),
        },
    }
    return MonthInput(engine_input, recorded, plants)


async def _compute(session: AsyncSession, run: SettlementRun, energy: EnergySource) -> None:
    month = await month_input(
        session, run.community_id, run.period, energy, official_only=run.kind == "PROVISIONAL"
    )
    engine_input = month.engine_input
    run.progress = 50
    settlement = settle(parse_scenario(engine_input.document))
    report = settlement_json(settlement)
    run.inputs_fingerprint = engine_input.fingerprint
    run.coverage = engine_input.coverage
    run.parameters = month.parameters
    run.engine_version = version("cacer")
    run.result = report
    run.total_cents = settlement.total_cents
    run.community_cents = settlement.community_cents
    await run_hours.store(session, run.id, settlement)
    for member in settlement.members:
        session.add(
            MemberResult(
                run_id=run.id,
                user_id=user_of(member.id),
                producer_shared_wh=member.producer_shared_energy_wh,
                contribution_wh=member.contribution_wh,
                as_producer_cents=member.as_producer_cents,
                as_consumer_cents=member.as_consumer_cents,
                cents=member.cents,
            )
        )
    await session.flush()
    previous = await repository.previous_completed_run(
        session, run.community_id, run.period, run.id
    )
    if previous is not None:
        run.previous_run_id = previous.id
        run.difference = await difference(session, previous, run)
    run.status = "COMPLETED"
    run.progress = 100


async def difference(
    session: AsyncSession, before: SettlementRun, after: SettlementRun
) -> dict[str, Any]:
    """What changed from ``before`` to ``after``, in cents (after - before)."""
    old = {m.user_id: m.cents for m in await repository.member_results(session, before.id)}
    new = {m.user_id: m.cents for m in await repository.member_results(session, after.id)}
    return {
        "from_run_id": before.id,
        "total_cents": (after.total_cents or 0) - (before.total_cents or 0),
        "community_cents": (after.community_cents or 0) - (before.community_cents or 0),
        "members_cents": {
            str(user): new.get(user, 0) - old.get(user, 0)
            for user in sorted(old.keys() | new.keys())
            if new.get(user, 0) != old.get(user, 0)
        },
    }


async def visible_run(session: AsyncSession, principal: Principal, run_id: int) -> SettlementRun:
    run = await repository.run(session, run_id)
    if run is None:
        raise NotFound("settlement run")
    try:
        await require_admin(session, principal, run.community_id)
    except ApiError as exc:
        if exc.status_code == 403:
            raise
        raise NotFound("settlement run") from exc
    return run


async def approve(session: AsyncSession, principal: Principal, run_id: int) -> SettlementRun:
    """The FINAL run of a PROVISIONAL one, its distribution posted once.

    A retry (the first answer lost, or the first attempt crashed after its
    commit) finds the FINAL run and posts nothing again: the FINAL run is
    unique per community month and the entry's key is unique."""
    run = await visible_run(session, principal, run_id)
    existing = await repository.final_run(session, run.community_id, run.period)
    if existing is not None and existing.approves_run_id == run.id:
        return existing
    if run.kind != "PROVISIONAL" or run.status != "COMPLETED":
        raise ApiError(
            409,
            "not_approvable",
            f"run {run.id} is {run.kind} {run.status}; "
            "only a COMPLETED PROVISIONAL run is approved",
        )
    if existing is not None:
        raise ApiError(409, "already_approved", f"{run.period} is already approved")
    final = SettlementRun(
        community_id=run.community_id,
        period=run.period,
        kind="FINAL",
        status="COMPLETED",
        progress=100,
        requested_by=principal.user_id,
        previous_run_id=run.id,
        approves_run_id=run.id,
        inputs_fingerprint=run.inputs_fingerprint,
        coverage=run.coverage,
        parameters=run.parameters,
        engine_version=run.engine_version,
        result=run.result,
        total_cents=run.total_cents,
        community_cents=run.community_cents,
        started_at=datetime.now(UTC),
        finished_at=datetime.now(UTC),
    )
    session.add(final)
    await session.flush()
    members = await repository.member_results(session, run.id)
    for m in members:
        session.add(
            MemberResult(
                run_id=final.id,
                user_id=m.user_id,
                producer_shared_wh=m.producer_shared_wh,
                contribution_wh=m.contribution_wh,
                as_producer_cents=m.as_producer_cents,
                as_consumer_cents=m.as_consumer_cents,
                cents=m.cents,
            )
        )
    await distribution.post_final(session, final, members, principal.user_id)
    await events.run_approved(session, final, members, principal.user_id)
    return final
