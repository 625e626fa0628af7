"""The forecast's learning, without servers: recent days weigh more when they forecast better,
the plant's shape follows the sun (UTC) across daylight-saving changes, a plant seen only at its
grid connection keeps its exchange as measured, and no hour is brighter than a clear noon."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from cerc_shared.clock import ITALY
from energy_service import forecast as forecast_module
from energy_service.forecast import (
    HISTORY_WEEKS,
    HOURLY_RATIO_MIN_SHARE,
    MAX_PERFORMANCE_RATIO,
    ForecastPlant,
    clear_sky_per_kw,
    forecast,
)
from energy_service.quantities import IntervalQuantities

HOUR = timedelta(hours=1)
SOLAR = ForecastPlant(1, "PRODUCER", "PV", 10.0, "Lombardia", "S1")
HOME = ForecastPlant(2, "CONSUMER", None, None, "Lombardia", "S1")
GRID = ForecastPlant(3, "PROSUMER", "PV", 5.0, "Lombardia", "S1")


def first_of(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def solar_history(now: datetime, index: Callable[[datetime], float]) -> list[IntervalQuantities]:
    """The solar plant's four weeks: `index(hour)` x 10 kW x the clear sky of each hour."""
    first = first_of(now)
    past = first - timedelta(weeks=HISTORY_WEEKS)
    items = []
    for i, kwh in enumerate(clear_sky_per_kw("Lombardia", past, first)):
        at = past + i * HOUR
        produced = index(at) * 10.0 * kwh
        items.append(IntervalQuantities(1, at, "iot", produced, 0.0, produced, 0.0, "derived"))
    return items


def home_history(now: datetime, load: Callable[[datetime], float]) -> list[IntervalQuantities]:
    first = first_of(now)
    past = first - timedelta(weeks=HISTORY_WEEKS)
    hours = (first - past) // HOUR
    return [
        IntervalQuantities(2, at, "iot", 0.0, load(at), 0.0, load(at), "derived")
        for at in (past + i * HOUR for i in range(hours))
    ]


def noon_ratios(now: datetime, pv: list[float]) -> list[float]:
    """The forecast's PV over 10 kW of clear sky, in the hours around noon."""
    first = first_of(now)
    ahead = clear_sky_per_kw("Lombardia", first, first + 48 * HOUR)
    return [
        pv[i] / (10.0 * ahead[i])
        for i in range(48)
        if 10 <= (first + i * HOUR).astimezone(ITALY).hour <= 15
    ]


JUNE = datetime(2025, 6, 16, 9, 30, tzinfo=UTC)  # a Monday


def test_a_constant_clear_sky_index_gives_that_index_times_the_clear_sky() -> None:
    solar = forecast([SOLAR], solar_history(JUNE, lambda _: 0.45), JUNE).plants[0]
    first = first_of(JUNE)
    ahead = clear_sky_per_kw("Lombardia", first, first + 48 * HOUR)
    assert solar.pv_kwh == pytest.approx([0.45 * 10.0 * k for k in ahead])
    assert solar.performance_ratio == pytest.approx(0.45)
    # Every candidate fits the same: the default half-life stands.
    assert solar.pv_half_life_days == 14.0


def test_the_pv_ratio_follows_a_recent_change_of_level() -> None:
    """Three weeks at a clear-sky index of 0.4, the last at 0.8 (the weather changed): the
    uniform mean of the window would say 0.5; the recent days forecast the validation days
    best, so the forecast follows them."""
    change = first_of(JUNE) - timedelta(weeks=1)
    items = solar_history(JUNE, lambda at: 0.8 if at >= change else 0.4)
    solar = forecast([SOLAR], items, JUNE).plants[0]
    assert solar.pv_half_life_days == 3.0
    ratios = noon_ratios(JUNE, solar.pv_kwh)
    assert ratios and all(0.7 < r <= 0.8 for r in ratios), ratios


def test_consumption_follows_a_recent_change_of_level() -> None:
    """A home at 1 kWh an hour for three weeks, then 2 (a heat pump switched on): the same
    weekday of past weeks alone would say 1.25 or less; the last days say 2."""
    change = first_of(JUNE) - timedelta(weeks=1)
    items = home_history(JUNE, lambda at: 2.0 if at >= change else 1.0)
    home = forecast([HOME], items, JUNE).plants[0]
    assert home.consumption_model is not None and home.consumption_model[0] is False
    assert all(1.8 < v <= 2.0 for v in home.consumption_kwh), home.consumption_kwh


def test_a_weekly_habit_keeps_the_same_weekday_model() -> None:
    """Saturdays at 3 kWh an hour, other days at 1: only the same-weekday model forecasts the
    validation days, and the Saturday in the horizon is forecast as a Saturday."""
    now = datetime(2025, 6, 13, 9, 30, tzinfo=UTC)  # a Friday: Saturday is in the horizon
    items = home_history(now, lambda at: 3.0 if at.astimezone(ITALY).weekday() == 5 else 1.0)
    home = forecast([HOME], items, now).plants[0]
    assert home.consumption_model is not None and home.consumption_model[0] is True
    first = first_of(now)
    for i, value in enumerate(home.consumption_kwh):
        saturday = (first + i * HOUR).astimezone(ITALY).weekday() == 5
        assert value == pytest.approx(3.0 if saturday else 1.0)


@pytest.mark.parametrize(
    "now",
    [
        datetime(2025, 3, 29, 10, 30, tzinfo=UTC),  # the horizon holds the 23-hour day
        datetime(2025, 10, 25, 10, 30, tzinfo=UTC),  # the horizon holds the 25-hour day
    ],
)
def test_no_pv_at_night_across_daylight_saving_days(now: datetime) -> None:
    result = forecast([SOLAR], solar_history(now, lambda _: 0.7), now)
    first = first_of(now)
    assert [h.start for h in result.hours] == [first + i * HOUR for i in range(48)]
    ahead = clear_sky_per_kw("Lombardia", first, first + 48 * HOUR)
    for hour, sky in zip(result.hours, ahead, strict=True):
        local = hour.start.astimezone(ITALY).hour
        if sky == 0:
            assert hour.pv_kwh == 0, hour.start
        if local < 5 or local >= 21:
            assert hour.pv_kwh == 0, hour.start
        assert hour.pv_kwh >= 0
    assert max(h.pv_kwh for h in result.hours) > 0


def test_the_plants_shade_follows_the_sun_across_the_spring_change() -> None:
    """A plant shaded until 10:00 UTC, learned before the clocks go forward: after the change
    the shade ends at 12:00 local time, not at 11:00 as it did on the clock before."""
    now = datetime(2025, 3, 29, 10, 30, tzinfo=UTC)  # Saturday; Sunday is the 23-hour day
    items = solar_history(now, lambda at: 0.3 if at.hour < 10 else 0.9)
    solar = forecast([SOLAR], items, now).plants[0]
    first = first_of(now)
    ahead = clear_sky_per_kw("Lombardia", first, first + 48 * HOUR)
    sunday = [i for i in range(48) if (first + i * HOUR).astimezone(ITALY).day == 30]
    checked = 0
    for i in sunday:
        at = first + i * HOUR
        if 8 <= at.hour <= 14:  # well lit: each hour's own ratio is trusted
            expected = (0.3 if at.hour < 10 else 0.9) * 10.0 * ahead[i]
            assert solar.pv_kwh[i] == pytest.approx(expected), at
            checked += 1
    assert checked == 7
    # 11:00 local on Sunday is 09:00 UTC: still shaded.
    eleven = datetime(2025, 3, 30, 11, tzinfo=ITALY).astimezone(UTC)
    i = (eleven - first) // HOUR
    assert solar.pv_kwh[i] == pytest.approx(0.3 * 10.0 * ahead[i])


def test_a_plant_seen_only_at_its_grid_connection_keeps_its_exchange() -> None:
    """A prosumer whose meter counts export and import: in the same hour it both fed in 0.8 of
    its clear sky and withdrew 0.3 kWh (clouds come and go inside the hour). Its forecast feeds
    in and withdraws what it did; netting the two again would lose the withdrawal at noon."""
    first = first_of(JUNE)
    past = first - timedelta(weeks=HISTORY_WEEKS)
    items = [
        IntervalQuantities(3, past + i * HOUR, "iot", 0.0, 0.0, 0.8 * 5.0 * kwh, 0.3, "measured")
        for i, kwh in enumerate(clear_sky_per_kw("Lombardia", past, first))
    ]
    grid = forecast([GRID], items, JUNE).plants[0]
    assert grid.at_connection
    ahead = clear_sky_per_kw("Lombardia", first, first + 48 * HOUR)
    assert grid.fed_in_kwh == pytest.approx([0.8 * 5.0 * k for k in ahead])
    assert grid.withdrawn_kwh == pytest.approx([0.3] * 48)
    # A plant with a generator meter nets production and consumption as before.
    solar = forecast([SOLAR], solar_history(JUNE, lambda _: 0.5), JUNE).plants[0]
    assert not solar.at_connection


def test_no_hour_is_forecast_above_a_clear_noon() -> None:
    """An hour the clear sky barely lights, where the plant reported a lot (a clock error): its
    ratio is huge, but no hour is forecast above the plant's clear-sky noon."""
    items = solar_history(JUNE, lambda at: 200.0 if at.astimezone(ITALY).hour == 19 else 0.6)
    solar = forecast([SOLAR], items, JUNE).plants[0]
    first = first_of(JUNE)
    ahead = clear_sky_per_kw("Lombardia", first, first + 48 * HOUR)
    ceiling = MAX_PERFORMANCE_RATIO * 10.0 * max(ahead)
    assert max(solar.pv_kwh) <= ceiling + 1e-9
    evening = [
        solar.pv_kwh[i] for i in range(48) if (first + i * HOUR).astimezone(ITALY).hour == 19
    ]
    assert max(evening) == pytest.approx(ceiling)


def test_the_future_never_reaches_the_model() -> None:
    """History past `now` (a test period, a clock ahead) changes nothing."""
    items = solar_history(JUNE, lambda _: 0.6) + home_history(JUNE, lambda _: 0.5)
    first = first_of(JUNE)
    future = [
        IntervalQuantities(p, first + i * HOUR, "iot", 9.0, 9.0, 0.0, 0.0, "derived")
        for p in (1, 2)
        for i in range(48)
    ]
    plain = forecast([SOLAR, HOME], items, JUNE)
    peeking = forecast([SOLAR, HOME], items + future, JUNE)
    assert peeking == plain


def test_a_dim_hour_steadily_above_the_clear_sky_keeps_its_own_ratio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hour the clear sky barely lights over the window (under HOURLY_RATIO_MIN_SHARE of the
    brightest: dusk), where a west-facing roof has given 20 times the south-facing clear sky
    every day: its own ratio forecast the validation days better than the overall one, so it
    keeps it. Another dim hour that is only noise would take the overall ratio. (The window
    weighed alike, so the hour's share of the clear sky is the one computed here.)"""
    monkeypatch.setattr(forecast_module, "PV_HALF_LIVES", (None,))
    first = first_of(JUNE)
    past = first - timedelta(weeks=HISTORY_WEEKS)
    sky = clear_sky_per_kw("Lombardia", past, first)
    by_hour = [sum(k for i, k in enumerate(sky) if (past + i * HOUR).hour == h) for h in range(24)]
    dim = [h for h in range(24) if 0 < by_hour[h] < HOURLY_RATIO_MIN_SHARE * max(by_hour)]
    assert dim, by_hour
    items = solar_history(JUNE, lambda at: 20.0 if at.hour in dim else 0.6)
    solar = forecast([SOLAR], items, JUNE).plants[0]
    ahead = clear_sky_per_kw("Lombardia", first, first + 48 * HOUR)
    lit = [i for i in range(48) if (first + i * HOUR).hour in dim and ahead[i] > 0]
    assert lit
    for i in lit:
        assert solar.pv_kwh[i] == pytest.approx(20.0 * 10.0 * ahead[i]), first + i * HOUR
