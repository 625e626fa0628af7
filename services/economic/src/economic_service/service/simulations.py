"""What-if: the community's last 12 months settled again with a newcomer added.

A household (its annual kWh spread by the standard BDEW H25 load profile) or a PV plant (its
clear-sky production per kW at the place, from pvlib) joins at one of the community's primary
substations. Each of the last twelve complete months is built exactly as a settlement run
builds it (``settlements.month_input``), settled as it is and with the newcomer, by the same
engine; the answer is what the community and the newcomer would have received, in cents.

It is an estimate: a clear sky every day overstates PV (real months are cloudier), and a
plant feeds all it produces into the grid (no self-consumption behind its meter). Months that
cannot be settled (no energy data, prices missing) are listed with the reason and left out of
the totals. Nothing is stored.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from cacer import ScenarioError, parse_scenario, settle
from cacer.parameters import REGIONS
from cerc_profiles import HourlyEnergy, ProfileError, household_kwh, pv_kwh_per_kw
from cerc_shared.auth import Principal
from cerc_shared.clock import ITALY, italian_today
from cerc_shared.envelope import ApiError, NotFound
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from economic_service.energy import EnergySource, EnergyUnavailable
from economic_service.models import registry
from economic_service.service import prices
from economic_service.service.engine_input import InputProblem, month_bounds
from economic_service.service.settlements import MonthInput, month_input

NEWCOMER = "newcomer"
MONTHS = 12

#: A place named by its region: the regional capital's coordinates (degrees north, east).
REGION_CAPITALS: dict[str, tuple[float, float]] = {
    "Abruzzo": (42.35, 13.40),
    "Basilicata": (40.64, 15.80),
    "Calabria": (38.91, 16.59),
    "Campania": (40.85, 14.27),
    "Emilia-Romagna": (44.49, 11.34),
    "Friuli-Venezia Giulia": (45.65, 13.78),
    "Lazio": (41.90, 12.50),
    "Liguria": (44.41, 8.93),
    "Lombardia": (45.46, 9.19),
    "Marche": (43.62, 13.52),
    "Molise": (41.56, 14.66),
    "Piemonte": (45.07, 7.69),
    "Puglia": (41.12, 16.87),
    "Sardegna": (39.22, 9.12),
    "Sicilia": (38.12, 13.36),
    "Toscana": (43.77, 11.26),
    "Trentino-Alto Adige": (46.07, 11.12),
    "Umbria": (43.11, 12.39),
    "Valle d'Aosta": (45.74, 7.32),
    "Veneto": (45.44, 12.32),
}
assert set(REGION_CAPITALS) == set(REGIONS)


@dataclass(frozen=True)
class Newcomer:
    kind: Literal["household", "plant"]
    annual_kwh: Decimal | None = None
    power_kw: Decimal | None = None
    technology: str = "PV"
    region: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    primary_substation: str | None = None
    enterprise: bool = False
    public_body: bool = False


@dataclass
class Totals:
    total_cents: int = 0
    community_cents: int = 0
    members_cents: int = 0  # the members already in the community
    incentive_cents: int = 0  # the TIP part of total_cents (the rest is the ARERA refund)

    def add(self, other: Totals) -> None:
        self.total_cents += other.total_cents
        self.incentive_cents += other.incentive_cents
        self.community_cents += other.community_cents
        self.members_cents += other.members_cents


@dataclass
class NewcomerCents:
    as_producer_cents: int = 0
    as_consumer_cents: int = 0
    cents: int = 0

    def add(self, other: NewcomerCents) -> None:
        self.as_producer_cents += other.as_producer_cents
        self.as_consumer_cents += other.as_consumer_cents
        self.cents += other.cents


@dataclass
class MonthResult:
    period: str
    before: Totals
    after: Totals
    newcomer: NewcomerCents
    newcomer_kwh: Decimal
    shared_energy_kwh_before: Decimal
    shared_energy_kwh_after: Decimal


@dataclass
class Simulation:
    community_id: int
    primary_substation: str
    months: list[MonthResult] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    before: Totals = field(default_factory=Totals)
    after: Totals = field(default_factory=Totals)
    newcomer: NewcomerCents = field(default_factory=NewcomerCents)


def last_months(today: date, count: int = MONTHS) -> list[str]:
    """The ``count`` complete months before today's, oldest first."""
    year, month = today.year, today.month
    out = []
    for _ in range(count):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        out.append(f"{year:04d}-{month:02d}")
    return out[::-1]


async def require_member(session: AsyncSession, principal: Principal, community_id: int) -> None:
    """A member of the community (any role) or a platform admin; anyone else 404."""
    if principal.is_platform_admin:
        if await registry.reader(session).community(community_id) is None:
            raise NotFound("community")
        return
    memberships = await registry.reader(session).memberships_of_user(
        principal.user_id, on=italian_today()
    )
    if not any(m.community_id == community_id for m in memberships):
        raise NotFound("community")


def _bad(field_name: str, message: str, expected: str) -> ApiError:
    return ApiError(422, "invalid", message, field=field_name, expected=expected)


def check_newcomer(n: Newcomer) -> tuple[float, float] | None:
    """The plant's place (lat, lon), or None for a household; 422 naming the field."""
    if n.kind == "household":
        if n.annual_kwh is None:
            raise _bad("annual_kwh", "a household needs its annual consumption", "kWh a year")
        return None
    if n.power_kw is None:
        raise _bad("power_kw", "a plant needs its power", "kW, more than 0")
    if n.technology != "PV":
        raise _bad("technology", f"{n.technology} production cannot be simulated yet",
                   "PV (profiles come from pvlib's clear sky)")  # fmt: skip
    if n.region is None or n.region not in REGIONS:
        raise _bad("region", f"{n.region!r} is not an Italian region", ", ".join(sorted(REGIONS)))
    if (n.latitude is None) != (n.longitude is None):
        raise _bad("latitude", "give both latitude and longitude, or neither",
                   "both, or neither (the regional capital)")  # fmt: skip
    if n.latitude is not None and n.longitude is not None:
        return n.latitude, n.longitude
    return REGION_CAPITALS[n.region]


def _profile(
    n: Newcomer, place: tuple[float, float] | None, periods: Sequence[str]
) -> list[HourlyEnergy]:
    first, _ = month_bounds(periods[0])
    _, last = month_bounds(periods[-1])
    start, end = prices.local_day_start(first), prices.local_day_start(last)
    if place is None:
        assert n.annual_kwh is not None
        return household_kwh(n.annual_kwh, start, end)
    assert n.power_kw is not None
    per_kw = pv_kwh_per_kw(place[0], place[1], start, end)
    return [HourlyEnergy(h.start, h.kwh * n.power_kw) for h in per_kw]


def _free_pod(document: dict[str, Any]) -> str:
    taken = {p["pod"] for p in document["points"]}
    return next(f"IT999E{k:08d}" for k in range(10**8) if f"IT999E{k:08d}" not in taken)


def _with_newcomer(
    document: dict[str, Any],
    n: Newcomer,
    substation: str,
    entry: date,
    hours: Sequence[HourlyEnergy],
) -> dict[str, Any]:
    zone = next(p["zone"] for p in document["points"] if p["substation"] == substation)
    out = copy.deepcopy(document)
    pod = _free_pod(document)
    out["members"].append(
        {"id": NEWCOMER, "enterprise": n.enterprise, "public_body": n.public_body}
    )
    point: dict[str, Any] = {"pod": pod, "member": NEWCOMER, "substation": substation, "zone": zone}
    if n.kind == "plant":
        point["plant"] = {
            "power_kw": str(n.power_kw),
            "technology": n.technology,
            "region": n.region,
            "entry_into_service": entry.isoformat(),
            "capital_grant_eur_per_kw": "0",
        }
    out["points"].append(point)
    key = "fed_in_kwh" if n.kind == "plant" else "withdrawn_kwh"
    out["readings"] += [
        {
            "pod": pod,
            "start": h.start.astimezone(ITALY).isoformat(),
            "minutes": 60,
            key: float(h.kwh),
        }
        for h in hours
    ]
    return out


def _settle_pair(
    period: str, before_doc: dict[str, Any], after_doc: dict[str, Any], newcomer_kwh: Decimal
) -> MonthResult:
    before = settle(parse_scenario(before_doc))
    after = settle(parse_scenario(after_doc))
    mine = next(m for m in after.members if m.id == NEWCOMER)
    return MonthResult(
        period=period,
        before=Totals(
            before.total_cents,
            before.community_cents,
            sum(m.cents for m in before.members),
            before.incentive_cents,
        ),
        after=Totals(
            after.total_cents,
            after.community_cents,
            sum(m.cents for m in after.members if m.id != NEWCOMER),
            after.incentive_cents,
        ),
        newcomer=NewcomerCents(mine.as_producer_cents, mine.as_consumer_cents, mine.cents),
        newcomer_kwh=newcomer_kwh,
        shared_energy_kwh_before=Decimal(before.shared_energy_wh) / 1000,
        shared_energy_kwh_after=Decimal(after.shared_energy_wh) / 1000,
    )


async def simulate(
    session: AsyncSession,
    principal: Principal,
    community_id: int,
    newcomer: Newcomer,
    energy: EnergySource,
) -> Simulation:
    await require_member(session, principal, community_id)
    place = check_newcomer(newcomer)
    periods = last_months(italian_today())
    inputs: list[tuple[str, MonthInput]] = []
    skipped: list[dict[str, str]] = []
    for period in periods:
        try:
            inputs.append((period, await month_input(session, community_id, period, energy)))
        except prices.PricesMissing as exc:
            skipped.append({"period": period, "code": "prices_missing", "reason": str(exc)})
        except InputProblem as exc:
            skipped.append({"period": period, "code": exc.code, "reason": str(exc)})
        except EnergyUnavailable as exc:
            skipped.append({"period": period, "code": "energy_unavailable", "reason": str(exc)})
    usable = [(p, m) for p, m in inputs if m.engine_input.document["readings"]]
    skipped += [
        {"period": p, "code": "no_readings", "reason": "no energy data for the month"}
        for p, m in inputs
        if not m.engine_input.document["readings"]
    ]
    if not usable:
        reasons = "; ".join(f"{s['period']}: {s['code']}" for s in skipped[:MONTHS])
        raise ApiError(
            409, "nothing_to_simulate", f"none of the last 12 months can be settled: {reasons}"
        )
    substations = sorted(
        {p["substation"] for _, m in usable for p in m.engine_input.document["points"]}
    )
    substation = newcomer.primary_substation
    if substation is None:
        counts = {s: 0 for s in substations}
        for p in usable[-1][1].engine_input.document["points"]:
            counts[p["substation"]] += 1
        substation = max(substations, key=lambda s: (counts[s], s))
    elif substation not in substations:
        raise _bad("primary_substation", f"{substation} is not one of the community's",
                   ", ".join(substations))  # fmt: skip
    try:
        profile = await run_in_threadpool(_profile, newcomer, place, periods)
    except ProfileError as exc:
        raise _bad("newcomer", str(exc), "a profile that can be computed") from None
    entry, _ = month_bounds(periods[0])
    result = Simulation(community_id=community_id, primary_substation=substation, skipped=skipped)
    for period, month in usable:
        start, end = month_bounds(period)
        first, last = prices.local_day_start(start), prices.local_day_start(end)
        hours = [h for h in profile if first <= h.start < last]
        document = month.engine_input.document
        if not any(p["substation"] == substation for p in document["points"]):
            reason = f"no point of the community at {substation} that month"
            skipped.append({"period": period, "code": "no_substation", "reason": reason})
            continue
        after_doc = _with_newcomer(document, newcomer, substation, entry, hours)
        try:
            month_result = await run_in_threadpool(
                _settle_pair, period, document, after_doc, sum((h.kwh for h in hours), Decimal(0))
            )
        except ScenarioError as exc:
            skipped.append({"period": period, "code": "engine", "reason": str(exc)[:500]})
            continue
        result.months.append(month_result)
        result.before.add(month_result.before)
        result.after.add(month_result.after)
        result.newcomer.add(month_result.newcomer)
    result.skipped.sort(key=lambda s: s["period"])
    return result
