"""The GSE's figures: monthly results computed by the rules engine from the measurements the
simulator holds, the monthly advances, and the payment runs with their dates.

Calendar (docs/cer-rules.md §6): month M's figures are published on the 25th of M+1
(`publication_day`), unless the month is marked late; each published month earns its advance
(the engine's per-plant formula) due on the last working day of M+1; the conguaglio of year Y
(the year's figures minus its advances) is due on the last working day on or before 15 May of
Y+1, once every month of Y with data is published. A payment run on each due date pays what is
pending when it reaches `minimum_payment_eur`, else carries it over.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from cacer import (
    Member,
    Period,
    Point,
    Prices,
    Readings,
    Scenario,
    Settlement,
    Shares,
    settle,
)
from cacer.advance import monthly_advance_cents
from cacer.hours import HourGrid, local_midnight_utc, sum_to_intervals
from cacer.parameters import TIP_MAX_POWER_KW, TRASE_EUR_MWH_BY_YEAR, MarketZone
from cacer.scenario import ZONE_INDEX

from gse_sim.state import (
    ELIGIBLE,
    INELIGIBLE,
    REFUND_ONLY,
    Configuration,
    PaymentLine,
    PointRecord,
    SimState,
)

ROME = ZoneInfo("Europe/Rome")


# Calendar -----------------------------------------------------------------------------------


def parse_month(text: str) -> date:
    """'2025-06' -> date(2025, 6, 1); ValueError otherwise."""
    year, sep, month = text.partition("-")
    if not sep or len(year) != 4 or len(month) != 2:
        raise ValueError(f"{text!r} is not a month YYYY-MM")
    return date(int(year), int(month), 1)


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def italian_holidays(year: int) -> set[date]:
    fixed = [(1, 1), (1, 6), (4, 25), (5, 1), (6, 2), (8, 15), (11, 1), (12, 8), (12, 25), (12, 26)]
    days = {date(year, m, d) for m, d in fixed}
    days.add(_easter(year) + timedelta(days=1))
    return days


def working_day_on_or_before(day: date) -> date:
    while day.weekday() >= 5 or day in italian_holidays(day.year):
        day -= timedelta(days=1)
    return day


def last_working_day(month: date) -> date:
    return working_day_on_or_before(next_month(month) - timedelta(days=1))


def publication_date(month: date, publication_day: int) -> date:
    following = next_month(month)
    return following.replace(day=publication_day)


def now(state: SimState) -> datetime:
    return state.clock or datetime.now(UTC)


def today(state: SimState) -> date:
    return now(state).astimezone(ROME).date()


def is_published(state: SimState, cfg: Configuration, month: date) -> bool:
    if month_key(month) in cfg.late_months:
        return False
    return today(state) >= publication_date(month, state.settings.publication_day)


def data_months(cfg: Configuration) -> list[date]:
    """Months in which the GSE holds measurements for the configuration."""
    return sorted(parse_month(m) for m, rev in cfg.month_revision.items() if rev > 0)


# Money and energy as the API writes them ----------------------------------------------------


def eur(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def kwh(wh: int) -> str:
    return f"{Decimal(wh) / 1000:.3f}"


# Results ------------------------------------------------------------------------------------


def trase_for(state: SimState, cfg: Configuration | None, year: int) -> Decimal:
    """TRASe of a year: set for the configuration, else set for everyone, else the engine's."""
    for key in ((cfg.id, year), (None, year)) if cfg else ((None, year),):
        if key in state.trase:
            return state.trase[key]
    if year in TRASE_EUR_MWH_BY_YEAR:
        value: Decimal = TRASE_EUR_MWH_BY_YEAR[year].value
        return value
    return state.settings.default_trase_eur_mwh


def _engine_point(record: PointRecord) -> Point:
    plant = record.plant
    if plant is not None and record.eligibility == REFUND_ONLY:
        # The engine's one way to say "no TIP, same place in the attribution queue, refund
        # still earned" is the 1 MW limit (power affects nothing else for a plant without TIP).
        plant = dataclasses.replace(plant, power_kw=max(plant.power_kw, TIP_MAX_POWER_KW + 1))
    return Point(record.pod, record.pod, record.substation, MarketZone(record.zone), plant)


def counted_points(cfg: Configuration) -> list[PointRecord]:
    """The points whose energy the GSE counts: admitted, and with data it holds."""
    return sorted(
        (
            p
            for p in cfg.points.values()
            if p.eligibility != INELIGIBLE and p.pod not in cfg.missing_pods
        ),
        key=lambda p: p.pod,
    )


def scenario_for(state: SimState, cfg: Configuration, month: date) -> Scenario:
    """The month as the rules engine's input: one member per POD, the GSE's prices and TRASe."""
    end = next_month(month)
    grid = HourGrid.for_period(month, end)
    points = counted_points(cfg)
    rows: list[tuple[int, int, int, float, float]] = []
    for index, record in enumerate(points):
        for start, r in sorted(cfg.readings.get(record.pod, {}).items()):
            if grid.start_utc <= start < grid.end_utc:
                rows.append((index, start, r.minutes, r.fed_in_kwh, r.withdrawn_kwh))
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
    zones = sorted({p.zone for p in points})
    hours = grid.starts_utc().tolist()
    default = state.settings.default_price_eur_mwh
    price_zone = [ZONE_INDEX[z] for z in zones for _ in hours]
    price_hour = [h for _ in zones for h in hours]
    price_eur = [float(state.prices.get((z, h), default)) for z in zones for h in hours]
    return Scenario(
        period=Period(month, end),
        members=tuple(Member(p.pod, public_body=p.public_body) for p in points),
        points=tuple(_engine_point(p) for p in points),
        prices=Prices(
            np.array(price_zone, dtype=np.int64),
            np.array(price_hour, dtype=np.int64),
            np.array(price_eur, dtype=np.float64),
        ),
        readings=Readings(
            point=np.array(columns[0], dtype=np.int64),
            start_utc=np.array(columns[1], dtype=np.int64),
            minutes=np.array(columns[2], dtype=np.int64),
            fed_in_kwh=np.array(columns[3], dtype=np.float64),
            withdrawn_kwh=np.array(columns[4], dtype=np.float64),
        ),
        distribution=Shares(Decimal(1), Decimal(0), Decimal(0)),
        trase_eur_mwh=trase_for(state, cfg, month.year),
    )


def result_id(cfg: Configuration, month: date) -> str:
    return f"GSE-RES-{cfg.number:06d}-{month.year:04d}{month.month:02d}"


def compute_result(state: SimState, cfg: Configuration, month: date) -> dict[str, Any]:
    """The month's figures (cached until anything in the simulator changes)."""
    key = (cfg.id, month_key(month))
    cached = state.results_cache.get(key)
    if cached is not None and cached[0] == state.version:
        return cached[1]
    scenario = scenario_for(state, cfg, month)
    settlement = settle(scenario)
    result = _result_document(state, cfg, month, scenario, settlement)
    state.results_cache[key] = (state.version, result)
    return result


def _result_document(
    state: SimState, cfg: Configuration, month: date, scenario: Scenario, s: Settlement
) -> dict[str, Any]:
    grid = HourGrid.for_period(scenario.period.start, scenario.period.end)
    r = scenario.readings
    withdrawn = sum_to_intervals(grid, r.point, r.start_utc, r.withdrawn_kwh, len(scenario.points))
    fed_in = sum_to_intervals(grid, r.point, r.start_utc, r.fed_in_kwh, len(scenario.points))
    plants = {p.pod: p for p in s.plants}
    points = []
    for index, record in enumerate(counted_points(cfg)):
        plant = plants.get(record.pod)
        points.append(
            {
                "pod": record.pod,
                "plant_id": record.id,
                "kind": "PRODUCTION" if record.plant is not None else "CONSUMPTION",
                "substation": record.substation,
                "zone": record.zone,
                "eligibility": record.eligibility,
                "fed_in_kwh": kwh(int(fed_in[index].sum())),
                "withdrawn_kwh": kwh(int(withdrawn[index].sum())),
                "shared_energy_kwh": kwh(plant.shared_energy_wh if plant else 0),
                "incentivised_shared_energy_kwh": kwh(
                    plant.incentivised_shared_energy_wh if plant else 0
                ),
                "incentive_eur": eur(plant.incentive_cents if plant else 0),
                "refund_eur": eur(plant.refund_cents if plant else 0),
            }
        )
    excluded = [
        {"pod": p.pod, "plant_id": p.id, "reason": p.eligibility_reason or "not admitted"}
        for p in sorted(cfg.points.values(), key=lambda p: p.pod)
        if p.eligibility == INELIGIBLE
    ]
    trase = scenario.trase_eur_mwh
    return {
        "id": result_id(cfg, month),
        "configuration_id": cfg.id,
        "month": month_key(month),
        "revision": cfg.month_revision.get(month_key(month), 0),
        "published_on": publication_date(month, state.settings.publication_day).isoformat(),
        "parameters": {"trase_eur_mwh": str(trase)},
        "totals": {
            "fed_in_kwh": kwh(sum(x.fed_in_wh for x in s.substations)),
            "withdrawn_kwh": kwh(sum(x.withdrawn_wh for x in s.substations)),
            "shared_energy_kwh": kwh(s.shared_energy_wh),
            "incentivised_shared_energy_kwh": kwh(s.incentivised_shared_energy_wh),
            "incentive_eur": eur(s.incentive_cents),
            "refund_eur": eur(s.refund_cents),
            "total_eur": eur(s.total_cents),
            "excess_eur": eur(s.excess_cents),
        },
        "substations": [
            {
                "code": x.code,
                "zone": x.zone.value,
                "fed_in_kwh": kwh(x.fed_in_wh),
                "withdrawn_kwh": kwh(x.withdrawn_wh),
                "shared_energy_kwh": kwh(x.shared_energy_wh),
                "incentivised_shared_energy_kwh": kwh(x.incentivised_shared_energy_wh),
                "incentive_eur": eur(x.incentive_cents),
                "refund_eur": eur(x.refund_cents),
            }
            for x in s.substations
        ],
        "points": points,
        "excluded_points": excluded,
        "_total_cents": s.total_cents,
        "_hours": _hours(s),
    }


def _hours(s: Settlement) -> list[dict[str, Any]]:
    """Hour by hour, as the GSE details a month: per substation, and each plant's attribution."""
    h = s.hourly
    labels = h.grid.local_labels()
    return [
        {
            "hour": labels[t],
            "substations": [
                {
                    "code": x.code,
                    "fed_in_kwh": kwh(int(h.substation_fed_in_wh[k, t])),
                    "withdrawn_kwh": kwh(int(h.substation_withdrawn_wh[k, t])),
                    "shared_energy_kwh": kwh(int(h.substation_shared_wh[k, t])),
                    "incentivised_shared_energy_kwh": kwh(int(h.substation_incentivised_wh[k, t])),
                }
                for k, x in enumerate(s.substations)
            ],
            "plants": [
                {"pod": p.pod, "shared_energy_kwh": kwh(int(h.plant_shared_wh[k, t]))}
                for k, p in enumerate(s.plants)
                if h.plant_shared_wh[k, t] > 0
            ],
        }
        for t in range(h.grid.count)
    ]


def public_result(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if not k.startswith("_")}


def published_months(state: SimState, cfg: Configuration) -> list[date]:
    return [m for m in data_months(cfg) if is_published(state, cfg, m)]


# Advances -----------------------------------------------------------------------------------


def advances(state: SimState, cfg: Configuration, month: date) -> list[dict[str, Any]]:
    """The month's advance per admitted plant, by the engine's formula (zero without TIP)."""
    lines = []
    for record in sorted(cfg.points.values(), key=lambda p: p.pod):
        if record.plant is None:
            continue
        cents = monthly_advance_cents(record.plant) if record.eligibility == ELIGIBLE else 0
        lines.append(
            {
                "id": f"GSE-ADV-{cfg.number:06d}-{month.year:04d}{month.month:02d}-{record.id}",
                "month": month_key(month),
                "plant_id": record.id,
                "pod": record.pod,
                "amount_eur": eur(cents),
                "due_on": last_working_day(next_month(month)).isoformat(),
                "_cents": cents,
            }
        )
    return lines


# Payment runs -------------------------------------------------------------------------------


def _new_lines(state: SimState, cfg: Configuration, run: date) -> list[PaymentLine]:
    lines = []
    months = data_months(cfg)
    for month in months:
        key = ("ADVANCE", month_key(month))
        due = last_working_day(next_month(month))
        if key in cfg.accounted or due > run or not is_published(state, cfg, month):
            continue
        cents = sum(a["_cents"] for a in advances(state, cfg, month))
        lines.append(PaymentLine("ADVANCE", month_key(month), cents, due))
    for year in sorted({m.year for m in months}):
        key = ("CONGUAGLIO", str(year))
        due = working_day_on_or_before(date(year + 1, 5, 15))
        of_year = [m for m in months if m.year == year]
        if key in cfg.accounted or due > run:
            continue
        if not all(("ADVANCE", month_key(m)) in cfg.accounted for m in of_year):
            continue  # a month still unpublished: the true-up waits for it
        figures = sum(compute_result(state, cfg, m)["_total_cents"] for m in of_year)
        advanced = sum(sum(a["_cents"] for a in advances(state, cfg, m)) for m in of_year)
        lines.append(PaymentLine("CONGUAGLIO", str(year), figures - advanced, due))
    return lines


def run_payments(state: SimState, cfg: Configuration) -> None:
    """Execute the payment runs due up to today that have not run yet, in date order."""
    months = data_months(cfg)
    if not months:
        return
    end = today(state)
    run_dates: set[date] = set()
    month = next_month(months[0])
    while month <= end.replace(day=1):
        run_dates.add(last_working_day(month))
        if month.month == 5:
            run_dates.add(working_day_on_or_before(month.replace(day=15)))
        month = next_month(month)
    minimum = int(state.settings.minimum_payment_eur * 100)
    for run in sorted(d for d in run_dates if d <= end):
        if cfg.runs_until is not None and run <= cfg.runs_until:
            continue
        for line in _new_lines(state, cfg, run):
            cfg.accounted.add((line.kind, line.period))
            cfg.pending.append(line)
        cfg.runs_until = run
        due = sum(line.amount_cents for line in cfg.pending)
        if cfg.pending and due >= minimum:
            cfg.payments.append(
                {
                    "id": f"GSE-PAY-{cfg.number:06d}-{run:%Y%m%d}",
                    "configuration_id": cfg.id,
                    "payment_date": run.isoformat(),
                    "amount_eur": eur(due),
                    "items": [
                        {
                            "kind": line.kind,
                            "period": line.period,
                            "amount_eur": eur(line.amount_cents),
                            "due_on": line.due.isoformat(),
                        }
                        for line in cfg.pending
                    ],
                }
            )
            cfg.pending = []


def balance(cfg: Configuration) -> dict[str, Any]:
    return {
        "carried_over_eur": eur(sum(line.amount_cents for line in cfg.pending)),
        "pending_items": [
            {
                "kind": line.kind,
                "period": line.period,
                "amount_eur": eur(line.amount_cents),
                "due_on": line.due.isoformat(),
            }
            for line in cfg.pending
        ],
        "last_run_on": cfg.runs_until.isoformat() if cfg.runs_until else None,
    }


def month_bounds_utc(month: date) -> tuple[int, int]:
    return local_midnight_utc(month), local_midnight_utc(next_month(month))
