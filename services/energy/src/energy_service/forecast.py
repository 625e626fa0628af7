"""Forecasts of the next hours (item 6): PV production, consumption, grid exchange, shared
energy, and the hours a member does best to consume in.

* PV: the clear-sky energy per kW of `cerc_profiles` at the plant's region (the registry does
  not publish a home's coordinates, which are personal data; the region's chief town is within
  a degree of any plant and the performance ratio absorbs the rest), times the plant's kW, times
  its performance ratio: what it measured over the recent weeks divided by what the clear sky
  would have given in the same hours, overall and per local hour of the day (orientation and
  shading have a daily shape). Clouds, shading, orientation and ageing are in that ratio; a
  plant without history gets `DEFAULT_PERFORMANCE_RATIO` (a typical Italian year's measured
  over clear-sky energy).
* Consumption: per plant, the mean of the same weekday and local hour over the recent weeks
  with data; a consuming plant with no history at all gets a standard household
  (`cerc_profiles.household_kwh`) of `DEFAULT_ANNUAL_KWH`, and says so.
* Exchange per plant and hour: fed-in = max(0, PV - consumption), withdrawn the opposite (the
  forecast is hourly; netting inside the hour is all a forecast can know).
* Shared energy: the rules engine's (`cacer`), per hour and primary substation min(Σ fed-in,
  Σ withdrawn), never written again here. Surplus: the community's fed-in not matched by any
  withdrawal, Σ fed-in - Σ withdrawn where positive: the energy a member's extra consumption in
  that hour would turn into shared energy. The best hours are those with the greatest surplus.

Pure: history in, forecast out. The API reads the history and the plants; the bench feeds the
simulator's history to the same functions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from cacer.shared_energy import shared_energy, sum_by_group
from cerc_profiles import household_kwh, pv_kwh_per_kw
from cerc_shared.clock import ITALY

from energy_service.quantities import IntervalQuantities

HOUR = timedelta(hours=1)
HORIZON_HOURS = 48
HISTORY_WEEKS = 4
DEFAULT_PERFORMANCE_RATIO = 0.75
# A ratio above 1 means the clear sky under-counts (a better site than the region's chief
# town, a bifacial array); far above it means the kW registered is wrong: clamp, do not trust.
MAX_PERFORMANCE_RATIO = 1.2
# An hour's own ratio is trusted where the clear sky gave at least this share of its brightest
# hour's energy, and capped (a plant's hour far above the clear sky is a clock or kW error).
HOURLY_RATIO_MIN_SHARE = 0.1
MAX_HOURLY_RATIO = 3.0
DEFAULT_ANNUAL_KWH = Decimal(2700)  # an Italian household's typical year
BEST_HOURS = 6
# Below a watt-hour an hour's surplus is rounding, not a reason to move a washing machine.
MIN_SURPLUS_KWH = 0.001

# The chief town of each region (plants are registered in a region, cerc_shared.events.cer).
REGION_SITES: Mapping[str, tuple[float, float]] = {
    "Abruzzo": (42.35, 13.40),
    "Basilicata": (40.64, 15.81),
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
    "Veneto": (45.44, 12.33),
}
ITALY_CENTRE = REGION_SITES["Lazio"]


@dataclass(frozen=True)
class ForecastPlant:
    plant_id: int
    plant_type: str | None  # CONSUMER, PRODUCER, PROSUMER; None: not published yet
    technology: str | None
    nominal_power_kw: float | None
    region: str | None
    primary_substation: str | None

    @property
    def solar_kw(self) -> float:
        """The PV kW the clear sky is scaled by; 0 for a plant that makes no PV."""
        if self.plant_type == "CONSUMER" or self.technology not in (None, "PV"):
            return 0.0
        return max(self.nominal_power_kw or 0.0, 0.0)

    @property
    def consumes(self) -> bool:
        return self.plant_type != "PRODUCER"


@dataclass(frozen=True)
class PlantForecast:
    plant_id: int
    performance_ratio: float | None  # None: no PV
    performance_ratio_basis: str  # "history", "default" or "none"
    consumption_basis: str  # "history", "standard_profile" or "none"
    pv_kwh: list[float]
    consumption_kwh: list[float]

    @property
    def fed_in_kwh(self) -> list[float]:
        return [max(0.0, p - c) for p, c in zip(self.pv_kwh, self.consumption_kwh, strict=True)]

    @property
    def withdrawn_kwh(self) -> list[float]:
        return [max(0.0, c - p) for p, c in zip(self.pv_kwh, self.consumption_kwh, strict=True)]


@dataclass(frozen=True)
class HourForecast:
    start: datetime
    pv_kwh: float
    consumption_kwh: float
    fed_in_kwh: float
    withdrawn_kwh: float
    shared_kwh: float
    surplus_kwh: float


@dataclass(frozen=True)
class Forecast:
    hours: list[HourForecast]
    plants: list[PlantForecast]

    def best_hours(self, count: int = BEST_HOURS) -> list[HourForecast]:
        """The hours with the greatest surplus (none if there is none), greatest first."""
        with_surplus = [h for h in self.hours if h.surplus_kwh >= MIN_SURPLUS_KWH]
        return sorted(with_surplus, key=lambda h: (-h.surplus_kwh, h.start))[:count]


ClearSky = Callable[[str | None, datetime, datetime], list[float]]


def clear_sky_per_kw(region: str | None, start: datetime, end: datetime) -> list[float]:
    """Clear-sky kWh per kW in each hour of [start, end) at the region's chief town."""
    latitude, longitude = REGION_SITES.get(region or "", ITALY_CENTRE)
    return [float(h.kwh) for h in pv_kwh_per_kw(latitude, longitude, start, end)]


def hour_floor(instant: datetime) -> datetime:
    seconds = int(instant.timestamp())
    return datetime.fromtimestamp(seconds - seconds % 3600, UTC)


def history_start(now: datetime) -> datetime:
    return hour_floor(now) - timedelta(weeks=HISTORY_WEEKS)


def _consumed(item: IntervalQuantities) -> float:
    """What the point consumed in the hour: its load meter, or what it took from the grid plus
    what it used of its own production (a grid-connection meter alone)."""
    if item.consumed_kwh > 0:
        return item.consumed_kwh
    return item.withdrawn_kwh + item.self_consumption_kwh


def _produced(item: IntervalQuantities) -> float:
    """What the point produced: its generator meter, or at least what it fed in."""
    return item.produced_kwh if item.produced_kwh > 0 else item.fed_in_kwh


def _hourly_ratios(
    items: Sequence[IntervalQuantities], past_sky: Sequence[float], past: datetime, kw: float
) -> tuple[float, dict[int, float]] | None:
    """The plant's performance ratio overall and per local hour of the day, or None without
    production in its history.

    Per hour, because a plant's shortfall against the clear sky has a shape of its own: a roof
    facing west keeps more of the afternoon than the south-facing default, a chimney shades the
    morning. An hour the clear sky barely lights (dawn, dusk) takes the overall ratio."""
    measured: dict[int, float] = defaultdict(float)
    clear: dict[int, float] = defaultdict(float)
    for item in items:
        hour = item.start.astimezone(ITALY).hour
        measured[hour] += _produced(item)
        clear[hour] += past_sky[(item.start - past) // HOUR] * kw
    total_clear, total_measured = sum(clear.values()), sum(measured.values())
    if total_clear <= 0 or total_measured <= 0:
        return None
    overall = min(total_measured / total_clear, MAX_PERFORMANCE_RATIO)
    brightest = max(clear.values())
    hourly = {
        hour: min(measured[hour] / energy, MAX_HOURLY_RATIO)
        for hour, energy in clear.items()
        if energy >= HOURLY_RATIO_MIN_SHARE * brightest
    }
    return overall, hourly


def forecast(
    plants: Sequence[ForecastPlant],
    history: Iterable[IntervalQuantities],
    now: datetime,
    *,
    hours: int = HORIZON_HOURS,
    clear_sky: ClearSky = clear_sky_per_kw,
) -> Forecast:
    """The next `hours` hours from the hour holding `now`, from hourly settled history before it.

    `history` holds hourly quantities (any hours; those outside the last `HISTORY_WEEKS` weeks
    before `now`, or of other plants, are ignored).
    """
    first = hour_floor(now)
    past = first - timedelta(weeks=HISTORY_WEEKS)
    horizon = [first + i * HOUR for i in range(hours)]
    wanted = {p.plant_id for p in plants}
    by_plant: dict[int, list[IntervalQuantities]] = defaultdict(list)
    for item in history:
        if item.plant_id in wanted and past <= item.start < first:
            by_plant[item.plant_id].append(item)

    sky_ahead: dict[str | None, list[float]] = {}
    sky_past: dict[str | None, list[float]] = {}

    def sky(region: str | None, behind: bool) -> list[float]:
        cache = sky_past if behind else sky_ahead
        if region not in cache:
            cache[region] = (
                clear_sky(region, past, first)
                if behind
                else clear_sky(region, first, first + hours * HOUR)
            )
        return cache[region]

    plant_forecasts = []
    for plant in plants:
        items = by_plant.get(plant.plant_id, [])
        ratio: float | None = None
        ratio_basis = "none"
        pv = [0.0] * hours
        if plant.solar_kw > 0:
            ratio, ratio_basis = DEFAULT_PERFORMANCE_RATIO, "default"
            by_hour = _hourly_ratios(items, sky(plant.region, behind=True), past, plant.solar_kw)
            if by_hour is not None:
                ratio, hourly = by_hour
                ratio_basis = "history"
            else:
                hourly = {}
            pv = [
                hourly.get(at.astimezone(ITALY).hour, ratio) * plant.solar_kw * kwh
                for at, kwh in zip(horizon, sky(plant.region, behind=False), strict=True)
            ]
        consumption = [0.0] * hours
        consumption_basis = "none"
        if plant.consumes:
            slots: dict[tuple[int, int], list[float]] = defaultdict(list)
            for item in items:
                local = item.start.astimezone(ITALY)
                slots[(local.weekday(), local.hour)].append(_consumed(item))
            if any(v > 0 for values in slots.values() for v in values):
                consumption_basis = "history"
                consumption = []
                for at in horizon:
                    local = at.astimezone(ITALY)
                    same = slots.get((local.weekday(), local.hour))
                    # An hour never seen (a meter installed mid-week): the same local hour of
                    # any weekday, then nothing.
                    if not same:
                        same = [v for (_, h), vs in slots.items() if h == local.hour for v in vs]
                    consumption.append(sum(same) / len(same) if same else 0.0)
            else:
                consumption_basis = "standard_profile"
                consumption = [
                    float(h.kwh)
                    for h in household_kwh(DEFAULT_ANNUAL_KWH, first, first + hours * HOUR)
                ]
        plant_forecasts.append(
            PlantForecast(plant.plant_id, ratio, ratio_basis, consumption_basis, pv, consumption)
        )
    return Forecast(_community_hours(plants, plant_forecasts, horizon), plant_forecasts)


def _community_hours(
    plants: Sequence[ForecastPlant], forecasts: Sequence[PlantForecast], horizon: list[datetime]
) -> list[HourForecast]:
    count = len(horizon)
    if not plants:
        return [HourForecast(at, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0) for at in horizon]
    fed_in = np.array([f.fed_in_kwh for f in forecasts], dtype=np.float64).reshape(-1, count)
    withdrawn = np.array([f.withdrawn_kwh for f in forecasts], dtype=np.float64).reshape(-1, count)
    substations = sorted({p.primary_substation or "" for p in plants})
    group = np.array([substations.index(p.primary_substation or "") for p in plants], np.int64)
    # The engine works in whole Wh, as the settlement does.
    fed_in_wh = np.rint(fed_in * 1000).astype(np.int64)
    withdrawn_wh = np.rint(withdrawn * 1000).astype(np.int64)
    shared_wh = shared_energy(
        sum_by_group(fed_in_wh, group, len(substations)),
        sum_by_group(withdrawn_wh, group, len(substations)),
    ).sum(axis=0)
    pv = np.array([f.pv_kwh for f in forecasts], dtype=np.float64).reshape(-1, count).sum(axis=0)
    load = np.array([f.consumption_kwh for f in forecasts], np.float64).reshape(-1, count)
    total_fed_in, total_withdrawn = fed_in.sum(axis=0), withdrawn.sum(axis=0)
    return [
        HourForecast(
            start=at,
            pv_kwh=float(pv[i]),
            consumption_kwh=float(load[:, i].sum()),
            fed_in_kwh=float(total_fed_in[i]),
            withdrawn_kwh=float(total_withdrawn[i]),
            shared_kwh=int(shared_wh[i]) / 1000,
            surplus_kwh=max(0.0, float(total_fed_in[i] - total_withdrawn[i])),
        )
        for i, at in enumerate(horizon)
    ]
