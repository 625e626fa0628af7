"""Forecasts of the next hours (item 6): PV production, consumption, grid exchange, shared
energy, and the hours a member does best to consume in.

* PV: the clear-sky energy per kW of `cerc_profiles` at the plant's region (the registry does
  not publish a home's coordinates, which are personal data; the region's chief town is within
  a degree of any plant and the performance ratio absorbs the rest), times the plant's kW, times
  its performance ratio: what it measured over the recent weeks divided by what the clear sky
  would have given in the same hours, overall and per hour of the sun's day (orientation and
  shading have a daily shape, which follows the sun, so UTC rather than the clock). Clouds,
  shading, orientation and ageing are in that ratio; a plant without history gets
  `DEFAULT_PERFORMANCE_RATIO` (a typical Italian year's measured over clear-sky energy).
* Consumption: per plant, the weighted mean of the same weekday and local hour, or of the same
  local hour on any day, over the recent weeks with data; a consuming plant with no history at
  all gets a standard household (`cerc_profiles.household_kwh`) of `DEFAULT_ANNUAL_KWH`, and
  says so.
* Recency, model by model and plant by plant: the days of the window weigh by a half-life (PV)
  or a half-life and a weekday-or-not (consumption) chosen on the plant's own last days, each
  two-day period forecast from the days before it as the forecast will be (`validation_folds`).
  A steady plant averages many days; one whose weather, season or habits changed follows its
  last ones. The period forecast is never seen.
* Exchange per plant and hour: fed-in = max(0, PV - consumption), withdrawn the opposite (the
  forecast is hourly; netting inside the hour is all a forecast can know); a plant seen only at
  its grid connection has its fed-in and withdrawn energy forecast as they were measured.
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
# An hour's own ratio is trusted where the window's clear sky gave it at least this share of its
# brightest hour's energy; below, the ratio of two near-zeros is noise (the overall ratio then).
HOURLY_RATIO_MIN_SHARE = 0.01
# Recency: the candidate half-lives in days (None: every day of the window alike), the first the
# default. Each plant's is chosen on the last VALIDATION_FOLDS x VALIDATION_DAYS of its own
# history, each period forecast from the days before it (at least MIN_FIT_DAYS): a plant under
# changing weather or season follows its last days, a steady one averages more of them out.
# The forecast period is never looked at.
PV_HALF_LIVES: tuple[float | None, ...] = (14.0, 7.0, 3.0, None)
# Consumption: (the same weekday as well as the hour, half-life in days). People repeat their
# week, but a level change (holidays, a heat pump switched on) shows first in the last days.
CONSUMPTION_MODELS: tuple[tuple[bool, float | None], ...] = (
    (True, None),
    (True, 14.0),
    (True, 7.0),
    (False, 7.0),
    (False, 2.0),
)
VALIDATION_DAYS = 2
VALIDATION_FOLDS = 3
MIN_FIT_DAYS = 2
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
    # What the validation days chose: the PV ratio's half-life in days (None: the window alike,
    # or no PV history) and consumption's (same weekday?, half-life); None without history.
    pv_half_life_days: float | None = None
    consumption_model: tuple[bool, float | None] | None = None
    # Seen only at the grid connection (a bidirectional meter, the distributor's files): its
    # PV and consumption are what it fed in and withdrew, each already net of the other inside
    # the hour, so they are its exchange as they are; netting them again would subtract the
    # self-consumption twice (a cloudy hour both exports and imports).
    at_connection: bool = False

    @property
    def fed_in_kwh(self) -> list[float]:
        if self.at_connection:
            return list(self.pv_kwh)
        return [max(0.0, p - c) for p, c in zip(self.pv_kwh, self.consumption_kwh, strict=True)]

    @property
    def withdrawn_kwh(self) -> list[float]:
        if self.at_connection:
            return list(self.consumption_kwh)
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


@dataclass(frozen=True)
class _Past:
    """One plant's hourly history as arrays, for the weighted sums its models are."""

    offset: np.ndarray  # hours since the window's start
    solar_hour: np.ndarray  # the UTC hour of the day: where the sun is, whatever the clock says
    slot: np.ndarray  # local weekday * 24 + local hour: when people live
    produced: np.ndarray
    consumed: np.ndarray

    @classmethod
    def of(cls, items: Sequence[IntervalQuantities], past: datetime) -> _Past:
        offsets, solar, slots, produced, consumed = [], [], [], [], []
        for item in items:
            local = item.start.astimezone(ITALY)
            offsets.append((item.start - past) // HOUR)
            solar.append(item.start.astimezone(UTC).hour)
            slots.append(local.weekday() * 24 + local.hour)
            produced.append(_produced(item))
            consumed.append(_consumed(item))
        return cls(
            np.array(offsets, np.int64),
            np.array(solar, np.int64),
            np.array(slots, np.int64),
            np.array(produced, np.float64),
            np.array(consumed, np.float64),
        )

    def weights(self, cutoff: int, half_life_days: float | None) -> np.ndarray:
        """1 for each hour before `cutoff` (an offset), halving every `half_life_days` of age
        when given; 0 from `cutoff` on (what the model may not see)."""
        before = self.offset < cutoff
        if half_life_days is None:
            return before.astype(np.float64)
        age_days = (cutoff - self.offset) / 24
        weights: np.ndarray = np.where(before, 0.5 ** (age_days / half_life_days), 0.0)
        return weights

    def validation_folds(self) -> list[tuple[int, int]]:
        """The validation periods [cutoff, end) as offsets: the last `VALIDATION_DAYS` of the
        history, then as many days before them, `VALIDATION_FOLDS` periods in all, each leaving
        at least `MIN_FIT_DAYS` before it to fit on. Several folds, because two days of weather
        alone would pick a half-life by chance."""
        if self.offset.size == 0:
            return []
        first, end = int(self.offset.min()), int(self.offset.max()) + 1
        folds = []
        for _ in range(VALIDATION_FOLDS):
            cutoff = end - VALIDATION_DAYS * 24
            if cutoff - first < MIN_FIT_DAYS * 24:
                break
            folds.append((cutoff, end))
            end = cutoff
        return folds


@dataclass(frozen=True)
class _Ratios:
    overall: float
    by_solar_hour: np.ndarray  # 24 ratios, by UTC hour


def _fit_ratios(
    past: _Past, clear: np.ndarray, weights: np.ndarray, trusted: np.ndarray | None = None
) -> _Ratios | None:
    """The performance ratio overall and per hour of the sun's day, or None without production.

    Per hour, because a plant's shortfall against the clear sky has a shape of its own: a roof
    facing west keeps more of the afternoon (and at dusk several times the grazing light the
    south-facing clear sky counts), a chimney shades the morning. The hour is UTC, not the
    clock's: a shade falls at the same solar time before and after a daylight-saving change.
    An hour not `trusted` (by default: one the clear sky barely lit over the window) takes the
    overall ratio."""
    measured = np.bincount(past.solar_hour, weights * past.produced, minlength=24)
    sky = np.bincount(past.solar_hour, weights * clear, minlength=24)
    total_measured, total_sky = float(measured.sum()), float(sky.sum())
    if total_sky <= 0 or total_measured <= 0:
        return None
    overall = min(total_measured / total_sky, MAX_PERFORMANCE_RATIO)
    if trusted is None:
        trusted = sky >= HOURLY_RATIO_MIN_SHARE * sky.max()
    trusted = trusted & (sky > 0)
    hourly = np.where(trusted, measured / np.where(trusted, sky, 1.0), overall)
    return _Ratios(overall, hourly)


def _trusted_hours(
    past: _Past, clear: np.ndarray, half_life: float | None, folds: list[tuple[int, int]]
) -> np.ndarray | None:
    """The hours lit enough over the window (the clear-sky share rule), and the dimmer ones whose
    own ratio forecast the validation periods at least as well as the overall one did: a dusk
    hour a west-facing roof has kept steadily above the clear sky keeps its own ratio, a dim hour
    that is only noise takes the overall one. A well-lit hour always keeps its own (there the
    two are close, and the validation days' clouds would choose by chance)."""
    own_error, overall_error = np.zeros(24), np.zeros(24)
    seen = np.zeros(24, bool)
    for cutoff, end in folds:
        fitted = _fit_ratios(past, clear, past.weights(cutoff, half_life), np.ones(24, bool))
        if fitted is None:
            return None
        held = (past.offset >= cutoff) & (past.offset < end) & (clear > 0)
        hours, actual = past.solar_hour[held], past.produced[held]
        own = fitted.by_solar_hour[hours] * clear[held]
        own_error += np.bincount(hours, np.abs(own - actual), minlength=24)
        overall = fitted.overall * clear[held]
        overall_error += np.bincount(hours, np.abs(overall - actual), minlength=24)
        seen |= np.bincount(hours, minlength=24) > 0
    if not seen.any():
        return None
    sky = np.bincount(past.solar_hour, clear, minlength=24)
    by_share = sky >= HOURLY_RATIO_MIN_SHARE * sky.max()
    trusted: np.ndarray = by_share | (seen & (own_error <= overall_error))
    return trusted


def _choose(errors: Sequence[float | None]) -> int:
    """The candidate with the least validation error (kWh); the first (the default) on a tie,
    rounding apart, or when none could be validated."""
    best = 0
    for i, error in enumerate(errors):
        least = errors[best]
        if error is not None and (least is None or error < least * (1 - 1e-6) - 1e-6):
            best = i
    return best


def _pv_model(past: _Past, past_sky_kwh: np.ndarray) -> tuple[_Ratios | None, float | None]:
    """The plant's ratios, fitted on its whole window with the half-life that forecast its last
    days best from the days before them (`_Past.validation_folds`)."""
    clear = past_sky_kwh[past.offset]
    folds = past.validation_folds()
    errors: list[float | None] = []
    for half_life in PV_HALF_LIVES:
        error: float | None = 0.0
        for cutoff, end in folds:
            fitted = _fit_ratios(past, clear, past.weights(cutoff, half_life))
            if fitted is None or error is None:
                error = None
                continue
            held = (past.offset >= cutoff) & (past.offset < end)
            predicted = fitted.by_solar_hour[past.solar_hour[held]] * clear[held]
            error += float(np.abs(predicted - past.produced[held]).sum())
        errors.append(error if folds else None)
    half_life = PV_HALF_LIVES[_choose(errors)]
    trusted = _trusted_hours(past, clear, half_life, folds) if folds else None
    weights = past.weights(len(past_sky_kwh), half_life)
    return _fit_ratios(past, clear, weights, trusted), half_life


def _fit_consumption(
    past: _Past, weights: np.ndarray, by_weekday: bool, slots: np.ndarray
) -> np.ndarray:
    """The weighted mean consumption at each of `slots` (local weekday * 24 + hour): of the same
    weekday and hour, or of the same hour on any day. A weekday and hour never seen (a meter
    installed mid-week) takes the same hour of any day, then nothing."""
    hours = past.slot % 24
    any_day = np.bincount(hours, weights * past.consumed, minlength=24)
    any_day_weight = np.bincount(hours, weights, minlength=24)
    hourly = np.divide(any_day, any_day_weight, out=np.zeros(24), where=any_day_weight > 0)
    if not by_weekday:
        by_hour: np.ndarray = hourly[slots % 24]
        return by_hour
    same = np.bincount(past.slot, weights * past.consumed, minlength=168)
    same_weight = np.bincount(past.slot, weights, minlength=168)
    weekly = np.where(
        same_weight > 0,
        same / np.where(same_weight > 0, same_weight, 1.0),
        hourly[np.arange(168) % 24],
    )
    by_slot: np.ndarray = weekly[slots]
    return by_slot


def _consumption_model(past: _Past) -> tuple[bool, float | None]:
    """The consumption model (same weekday or any day; half-life) that forecast the last days
    best from the days before them (`_Past.validation_folds`)."""
    folds = past.validation_folds()
    errors: list[float | None] = []
    for by_weekday, half_life in CONSUMPTION_MODELS:
        error = 0.0
        for cutoff, end in folds:
            held = (past.offset >= cutoff) & (past.offset < end)
            predicted = _fit_consumption(
                past, past.weights(cutoff, half_life), by_weekday, past.slot[held]
            )
            error += float(np.abs(predicted - past.consumed[held]).sum())
        errors.append(error if folds else None)
    return CONSUMPTION_MODELS[_choose(errors)]


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
    horizon_solar = np.array([at.hour for at in horizon], np.int64)
    local_horizon = [at.astimezone(ITALY) for at in horizon]
    horizon_slots = np.array([at.weekday() * 24 + at.hour for at in local_horizon], np.int64)
    window = (first - past) // HOUR
    wanted = {p.plant_id for p in plants}
    by_plant: dict[int, list[IntervalQuantities]] = defaultdict(list)
    for item in history:
        if item.plant_id in wanted and past <= item.start < first:
            by_plant[item.plant_id].append(item)

    sky_ahead: dict[str | None, np.ndarray] = {}
    sky_past: dict[str | None, np.ndarray] = {}

    def sky(region: str | None, behind: bool) -> np.ndarray:
        cache = sky_past if behind else sky_ahead
        if region not in cache:
            start, end = (past, first) if behind else (first, first + hours * HOUR)
            cache[region] = np.array(clear_sky(region, start, end), np.float64)
        return cache[region]

    plant_forecasts = []
    for plant in plants:
        items = by_plant.get(plant.plant_id, [])
        plant_past = _Past.of(items, past)
        at_connection = bool(items) and not any(
            item.produced_kwh > 0 or item.consumed_kwh > 0 for item in items
        )
        ratio: float | None = None
        ratio_basis = "none"
        pv_half_life: float | None = None
        pv = [0.0] * hours
        if plant.solar_kw > 0:
            ahead = sky(plant.region, behind=False) * plant.solar_kw
            ratios, pv_half_life = _pv_model(
                plant_past, sky(plant.region, behind=True)[:window] * plant.solar_kw
            )
            if ratios is None:
                ratio, ratio_basis, pv_half_life = DEFAULT_PERFORMANCE_RATIO, "default", None
                pv = (DEFAULT_PERFORMANCE_RATIO * ahead).tolist()
            else:
                ratio, ratio_basis = ratios.overall, "history"
                # However bright a learned hour, never above what the plant gives at noon on a
                # clear day: the ratio of a barely lit hour is large and uncertain.
                ceiling = MAX_PERFORMANCE_RATIO * float(ahead.max(initial=0.0))
                pv = np.minimum(ratios.by_solar_hour[horizon_solar] * ahead, ceiling).tolist()
        consumption = [0.0] * hours
        consumption_basis = "none"
        consumption_model: tuple[bool, float | None] | None = None
        if plant.consumes:
            if np.any(plant_past.consumed > 0):
                consumption_basis = "history"
                consumption_model = _consumption_model(plant_past)
                by_weekday, half_life = consumption_model
                consumption = _fit_consumption(
                    plant_past, plant_past.weights(window, half_life), by_weekday, horizon_slots
                ).tolist()
            else:
                consumption_basis = "standard_profile"
                consumption = [
                    float(h.kwh)
                    for h in household_kwh(DEFAULT_ANNUAL_KWH, first, first + hours * HOUR)
                ]
        plant_forecasts.append(
            PlantForecast(
                plant.plant_id,
                ratio,
                ratio_basis,
                consumption_basis,
                pv,
                consumption,
                pv_half_life_days=pv_half_life,
                consumption_model=consumption_model,
                at_connection=at_connection,
            )
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
