"""`settle(scenario)`: from meter readings and zonal prices to the euros of a CER and who gets them.

Pipeline, each step in its own module:
1. readings summed to the Italian local hour per point, then quantised to the Wh (`hours`);
2. shared energy per primary substation and per market zone, attribution to plants oldest
   first, consumers' contributions (`shared_energy`);
3. TIP per plant and hour with F and its public-body exemption (`tip`), refund (`refund`);
4. the 55%/45% excess per set of plants (`excess`), then the distribution (`distribution`);
5. the GSE's monthly advance per plant (`advance`).
Money is integer cents throughout the result; see `money` for the rounding rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from cacer.advance import monthly_advance_cents
from cacer.distribution import distribute
from cacer.excess import Excess, PlantSet, excess
from cacer.hours import HourGrid, sum_to_intervals
from cacer.money import cents_half_up
from cacer.parameters import MarketZone
from cacer.refund import refund_eur, split_refund_cents, trase_by_year
from cacer.scenario import (
    MAX_PROBLEMS_PER_CHECK,
    ZONES,
    Period,
    Plant,
    Problem,
    Scenario,
    ScenarioError,
    check_scenario,
)
from cacer.shared_energy import (
    attribute_oldest_first,
    consumer_contributions,
    shared_energy,
    sum_by_group,
)
from cacer.tip import (
    PICO_EUR_PER_EUR,
    exact_row_dots,
    grant_reduction,
    ineligibility,
    prices_to_micro,
    tip_before_reduction_micro,
    tip_terms,
)


@dataclass(frozen=True)
class PlantResult:
    pod: str
    member: str
    substation: str
    tip_ineligibility: str | None  # why the plant earns no TIP, or None if it does
    grant_reduction: Fraction  # F
    fed_in_wh: int
    shared_energy_wh: int  # the part of the substation's shared energy attributed to it
    incentive_cents: int
    refund_cents: int
    advance_monthly_cents: int

    @property
    def incentivised_shared_energy_wh(self) -> int:
        return 0 if self.tip_ineligibility else self.shared_energy_wh


@dataclass(frozen=True)
class SubstationResult:
    code: str
    zone: MarketZone
    fed_in_wh: int
    withdrawn_wh: int
    shared_energy_wh: int  # EAC = EACV: all plants
    incentivised_shared_energy_wh: int  # EACI: the part attributed to plants earning the TIP
    incentive_cents: int
    refund_cents: int


@dataclass(frozen=True)
class ZoneResult:
    zone: MarketZone
    fed_in_wh: int
    withdrawn_wh: int
    shared_energy_wh: int  # reported, earns nothing by itself


@dataclass(frozen=True)
class MemberResult:
    id: str
    enterprise: bool
    public_body: bool
    producer_shared_energy_wh: int
    contribution_wh: int
    as_producer_cents: int
    as_consumer_cents: int

    @property
    def cents(self) -> int:
        return self.as_producer_cents + self.as_consumer_cents


@dataclass(frozen=True, eq=False)
class HourlyDetail:
    """Hour-by-hour figures, one column per hour of `grid` (its `local_labels()` name them)."""

    grid: HourGrid
    substation_fed_in_wh: NDArray[np.int64]  # (substations, hours)
    substation_withdrawn_wh: NDArray[np.int64]
    substation_shared_wh: NDArray[np.int64]
    substation_incentivised_wh: NDArray[np.int64]
    zone_shared_wh: NDArray[np.int64]  # (zones, hours), zones as in Settlement.zones
    plant_shared_wh: NDArray[np.int64]  # (plants, hours), plants as in Settlement.plants
    plant_tip_before_reduction_micro: NDArray[np.int64]  # µ€/MWh, 0 where no TIP is earned


@dataclass(frozen=True, eq=False)
class Settlement:
    period: Period
    shared_energy_wh: int  # Σ over substations of EAC: what earns the refund
    incentivised_shared_energy_wh: int  # Σ over substations of EACI: what earns the TIP
    zone_shared_energy_wh: int
    incentive_cents: int
    refund_cents: int
    substations: tuple[SubstationResult, ...]
    zones: tuple[ZoneResult, ...]
    plants: tuple[PlantResult, ...]
    excess: tuple[Excess, ...]
    members: tuple[MemberResult, ...]
    community_cents: int
    hourly: HourlyDetail

    @property
    def total_cents(self) -> int:
        return self.incentive_cents + self.refund_cents

    @property
    def excess_cents(self) -> int:
        return sum(e.excess_cents for e in self.excess)

    @property
    def advance_monthly_cents(self) -> int:
        return sum(p.advance_monthly_cents for p in self.plants)


def _index(values: Sequence[str]) -> tuple[list[str], NDArray[np.int64]]:
    """Distinct values in order of first appearance, and each value's position among them."""
    distinct = list(dict.fromkeys(values))
    position = {v: i for i, v in enumerate(distinct)}
    return distinct, np.array([position[v] for v in values], dtype=np.int64)


def settle(scenario: Scenario) -> Settlement:
    """Settle a scenario; raise `ScenarioError` listing every problem that prevents it."""
    problems = check_scenario(scenario)
    if problems:
        raise ScenarioError(problems)
    grid = HourGrid.for_period(scenario.period.start, scenario.period.end)
    points = scenario.points
    readings = scenario.readings
    member_ids = [m.id for m in scenario.members]
    public_members = {m.id for m in scenario.members if m.public_body}

    substation_codes, substation_of_point = _index([p.substation for p in points])
    n_substations = len(substation_codes)
    zone_of_substation = {p.substation: p.zone for p in points}
    zone_list, zone_of_sub = _index([zone_of_substation[c].value for c in substation_codes])

    plant_points = [i for i, p in enumerate(points) if p.plant is not None]
    plants: list[Plant] = [p.plant for p in points if p.plant is not None]
    plant_row = np.full(len(points), -1, dtype=np.int64)
    plant_row[plant_points] = np.arange(len(plant_points))
    substation_of_plant = substation_of_point[plant_points]

    # 1. Hourly energy per point, whole Wh.
    row_of_reading = plant_row[readings.point]
    producing = row_of_reading >= 0
    fed_in = sum_to_intervals(
        grid,
        row_of_reading[producing],
        readings.start_utc[producing],
        readings.fed_in_kwh[producing],
        len(plants),
    )
    withdrawn = sum_to_intervals(
        grid, readings.point, readings.start_utc, readings.withdrawn_kwh, len(points)
    )

    # 2. Shared energy per substation and zone; attribution; the incentivised part.
    sub_fed_in = sum_by_group(fed_in, substation_of_plant, n_substations)
    sub_withdrawn = sum_by_group(withdrawn, substation_of_point, n_substations)
    sub_shared = shared_energy(sub_fed_in, sub_withdrawn)
    zone_fed_in = sum_by_group(sub_fed_in, zone_of_sub, len(zone_list))
    zone_withdrawn = sum_by_group(sub_withdrawn, zone_of_sub, len(zone_list))
    zone_shared = shared_energy(zone_fed_in, zone_withdrawn)

    pods = np.array([points[i].pod for i in plant_points])
    attributed = attribute_oldest_first(
        fed_in,
        substation_of_plant,
        np.array([p.entry_into_service.toordinal() for p in plants], dtype=np.int64),
        np.argsort(np.argsort(pods, kind="stable"), kind="stable").astype(np.int64),
        sub_shared,
    )
    reasons = [ineligibility(p) for p in plants]
    eligible = np.array([r is None for r in reasons], dtype=bool)
    sub_incentivised = sum_by_group(
        attributed[eligible], substation_of_plant[eligible], n_substations
    )

    # 3. TIP.
    public_point = np.array([p.member in public_members for p in points], dtype=bool)
    sub_withdrawn_public = sum_by_group(
        withdrawn[public_point], substation_of_point[public_point], n_substations
    )
    tip_micro, incentive_cents = _incentives(
        scenario,
        grid,
        plants,
        [points[i].zone for i in plant_points],
        eligible,
        attributed,
        substation_of_plant,
        sub_withdrawn,
        sub_withdrawn_public,
    )

    # Refund, year by year of the local calendar because TRASe is set per year.
    years = grid.local_years()
    year_values, year_starts = np.unique(years, return_index=True)
    try:
        trase = trase_by_year(year_values.tolist(), scenario.trase_eur_mwh)
    except LookupError as e:
        raise ScenarioError([Problem("trase_eur_mwh", str(e))]) from e
    bounds = [*year_starts.tolist(), grid.count]
    by_year = {
        int(y): attributed[:, bounds[k] : bounds[k + 1]].sum(axis=1)
        for k, y in enumerate(year_values.tolist())
    }
    refund = split_refund_cents(
        [refund_eur({y: int(v[i]) for y, v in by_year.items()}, trase) for i in range(len(plants))],
        substation_of_plant.tolist(),
        n_substations,
    )
    refund_cents = refund.plant_cents

    fed_in_total = fed_in.sum(axis=1)
    shared_total = attributed.sum(axis=1)
    plant_results = tuple(
        PlantResult(
            pod=points[pi].pod,
            member=points[pi].member,
            substation=points[pi].substation,
            tip_ineligibility=reasons[k],
            grant_reduction=grant_reduction(plants[k]) if reasons[k] is None else Fraction(0),
            fed_in_wh=int(fed_in_total[k]),
            shared_energy_wh=int(shared_total[k]),
            incentive_cents=incentive_cents[k],
            refund_cents=refund_cents[k],
            advance_monthly_cents=monthly_advance_cents(plants[k]),
        )
        for k, pi in enumerate(plant_points)
    )

    substations = tuple(
        SubstationResult(
            code=code,
            zone=zone_of_substation[code],
            fed_in_wh=int(sub_fed_in[s].sum()),
            withdrawn_wh=int(sub_withdrawn[s].sum()),
            shared_energy_wh=int(sub_shared[s].sum()),
            incentivised_shared_energy_wh=int(sub_incentivised[s].sum()),
            incentive_cents=sum(p.incentive_cents for p in plant_results if p.substation == code),
            refund_cents=refund.substation_cents[s],
        )
        for s, code in enumerate(substation_codes)
    )
    zones = tuple(
        ZoneResult(
            MarketZone(z),
            int(zone_fed_in[k].sum()),
            int(zone_withdrawn[k].sum()),
            int(zone_shared[k].sum()),
        )
        for k, z in enumerate(zone_list)
    )

    # 4. Excess per set of plants, then the distribution.
    excesses = []
    for plant_set in PlantSet:
        in_set = [
            k
            for k, p in enumerate(plants)
            if eligible[k]
            and (p.capital_grant_eur_per_kw > 0) == (plant_set is PlantSet.TIP_WITH_GRANT)
        ]
        if in_set:
            excesses.append(
                excess(
                    plant_set,
                    sum(plant_results[k].shared_energy_wh for k in in_set),
                    sum(plant_results[k].fed_in_wh for k in in_set),
                    sum(plant_results[k].incentive_cents for k in in_set),
                )
            )

    contribution = consumer_contributions(
        withdrawn, substation_of_point, sub_incentivised, sub_withdrawn
    )
    member_position = {m: i for i, m in enumerate(member_ids)}
    member_contribution = [0] * len(member_ids)
    for i, p in enumerate(points):
        member_contribution[member_position[p.member]] += int(contribution[i])
    member_produced = [0] * len(member_ids)
    for plant in plant_results:
        member_produced[member_position[plant.member]] += plant.shared_energy_wh

    incentive_total = sum(p.incentive_cents for p in plant_results)
    refund_total = refund.total_cents
    shares = distribute(
        incentive_total + refund_total,
        sum(e.excess_cents for e in excesses),
        scenario.distribution,
        member_produced,
        member_contribution,
        [m.enterprise for m in scenario.members],
    )
    members = tuple(
        MemberResult(
            id=m.id,
            enterprise=m.enterprise,
            public_body=m.public_body,
            producer_shared_energy_wh=member_produced[i],
            contribution_wh=member_contribution[i],
            as_producer_cents=shares.members[i].as_producer_cents,
            as_consumer_cents=shares.members[i].as_consumer_cents,
        )
        for i, m in enumerate(scenario.members)
    )

    return Settlement(
        period=scenario.period,
        shared_energy_wh=int(sub_shared.sum()),
        incentivised_shared_energy_wh=int(sub_incentivised.sum()),
        zone_shared_energy_wh=int(zone_shared.sum()),
        incentive_cents=incentive_total,
        refund_cents=refund_total,
        substations=substations,
        zones=zones,
        plants=plant_results,
        excess=tuple(excesses),
        members=members,
        community_cents=shares.community_cents,
        hourly=HourlyDetail(
            grid=grid,
            substation_fed_in_wh=sub_fed_in,
            substation_withdrawn_wh=sub_withdrawn,
            substation_shared_wh=sub_shared,
            substation_incentivised_wh=sub_incentivised,
            zone_shared_wh=zone_shared,
            plant_shared_wh=attributed,
            plant_tip_before_reduction_micro=tip_micro,
        ),
    )


def _incentives(
    scenario: Scenario,
    grid: HourGrid,
    plants: list[Plant],
    zone_of_plant: list[MarketZone],
    eligible: NDArray[np.bool_],
    attributed: NDArray[np.int64],
    substation_of_plant: NDArray[np.int64],
    sub_withdrawn: NDArray[np.int64],
    sub_withdrawn_public: NDArray[np.int64],
) -> tuple[NDArray[np.int64], list[int]]:
    """The TIP bracket per plant-hour (µ€/MWh) and each plant's incentive in cents."""
    prices = scenario.prices
    in_grid = (prices.hour_utc >= grid.start_utc) & (prices.hour_utc < grid.end_utc)
    pz = np.zeros((len(ZONES), grid.count), dtype=np.int64)
    known = np.zeros((len(ZONES), grid.count), dtype=bool)
    hour = grid.index_of(prices.hour_utc[in_grid])
    pz[prices.zone[in_grid], hour] = prices_to_micro(prices.eur_mwh[in_grid])
    known[prices.zone[in_grid], hour] = True

    rows = np.flatnonzero(eligible)
    zone_index = np.array([ZONES.index(zone_of_plant[k]) for k in rows], dtype=np.int64)
    earning = attributed[rows]
    missing = ~known[zone_index] & (earning > 0)
    if missing.any():
        raise ScenarioError(_missing_prices(grid, zone_index, missing))

    tip_micro = np.zeros_like(attributed)
    bracket = tip_before_reduction_micro(tip_terms([plants[k] for k in rows]), pz[zone_index])
    bracket[earning == 0] = 0
    tip_micro[rows] = bracket

    # F exemption: the share W_public(h)/W(h) of a granted plant's hourly EACI earns TIP without
    # F. That share is rounded half up to the Wh so that both parts stay exact integers.
    reduction = [grant_reduction(plants[k]) for k in rows]
    exempt = np.zeros_like(earning)
    granted = np.array([f > 0 for f in reduction], dtype=bool)
    if granted.any():
        sub = substation_of_plant[rows[granted]]
        total = sub_withdrawn[sub]
        public = sub_withdrawn_public[sub]
        exempt[granted] = (2 * earning[granted] * public + total) // np.maximum(2 * total, 1)
    with_reduction = exact_row_dots(bracket, earning - exempt)
    without_reduction = exact_row_dots(bracket, exempt)

    cents = [0] * len(plants)
    for j, k in enumerate(rows.tolist()):
        exact_eur = (
            Fraction(with_reduction[j]) * (1 - reduction[j]) + without_reduction[j]
        ) / PICO_EUR_PER_EUR
        cents[k] = cents_half_up(exact_eur)
    return tip_micro, cents


def _missing_prices(
    grid: HourGrid, zone_index: NDArray[np.int64], missing: NDArray[np.bool_]
) -> list[Problem]:
    by_zone = np.zeros((len(ZONES), grid.count), dtype=bool)
    for z in np.unique(zone_index).tolist():
        by_zone[z] = missing[zone_index == z].any(axis=0)
    hours_then_zones = np.argwhere(by_zone.T)
    labels = grid.local_labels()
    problems = [
        Problem("prices", f"missing price for zone {ZONES[z]} at {labels[h]}")
        for h, z in hours_then_zones[:MAX_PROBLEMS_PER_CHECK].tolist()
    ]
    if len(hours_then_zones) > MAX_PROBLEMS_PER_CHECK:
        more = len(hours_then_zones) - MAX_PROBLEMS_PER_CHECK
        problems.append(Problem("prices", f"{more} more missing zone-hours"))
    return problems
