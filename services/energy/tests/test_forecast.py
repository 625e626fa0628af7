"""The forecast's properties, without servers: PV follows the sun and the plant's own performance
ratio, consumption the same weekday and hour of recent weeks, nothing is negative, shared energy
is the engine's min per substation, and the best hours are where the surplus is greatest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cerc_shared.clock import ITALY
from energy_service.forecast import (
    DEFAULT_PERFORMANCE_RATIO,
    HISTORY_WEEKS,
    ForecastPlant,
    clear_sky_per_kw,
    forecast,
)
from energy_service.quantities import IntervalQuantities

NOW = datetime(2025, 6, 16, 9, 30, tzinfo=UTC)  # a Monday, 11:30 in Rome
FIRST = datetime(2025, 6, 16, 9, tzinfo=UTC)
PAST = FIRST - timedelta(weeks=HISTORY_WEEKS)
HOUR = timedelta(hours=1)

SOLAR = ForecastPlant(1, "PRODUCER", "PV", 10.0, "Lombardia", "S1")
HOME = ForecastPlant(2, "CONSUMER", None, None, "Lombardia", "S1")
FAR_HOME = ForecastPlant(3, "CONSUMER", None, None, "Lombardia", "S2")


def home_load(at: datetime) -> float:
    """A home using more on Mondays, and most at 20:00 local time."""
    local = at.astimezone(ITALY)
    return (2.0 if local.weekday() == 0 else 1.0) * (0.3 + (1.2 if local.hour == 20 else 0.0))


def history(ratio: float = 0.6) -> list[IntervalQuantities]:
    sky = clear_sky_per_kw("Lombardia", PAST, FIRST)
    items = []
    for i, kwh in enumerate(sky):
        at = PAST + i * HOUR
        produced = ratio * 10.0 * kwh
        items.append(IntervalQuantities(1, at, "iot", produced, 0.0, produced, 0.0, "derived"))
        load = home_load(at)
        items.append(IntervalQuantities(2, at, "iot", 0.0, load, 0.0, load, "derived"))
        # The far home has only a grid-connection meter: withdrawn is its consumption.
        items.append(IntervalQuantities(3, at, "iot", 0.0, 0.0, 0.0, 0.5, "measured"))
    return items


def test_pv_follows_the_sun_scaled_by_the_learned_ratio() -> None:
    result = forecast([SOLAR, HOME, FAR_HOME], history(0.6), NOW)
    solar = result.plants[0]
    assert solar.performance_ratio_basis == "history"
    assert solar.performance_ratio == pytest.approx(0.6, rel=1e-6)
    assert len(result.hours) == 48 and result.hours[0].start == FIRST
    ahead = clear_sky_per_kw("Lombardia", FIRST, FIRST + 48 * HOUR)
    assert solar.pv_kwh == pytest.approx([0.6 * 10.0 * k for k in ahead])
    for hour in result.hours:
        local = hour.start.astimezone(ITALY).hour
        if local < 5 or local >= 22:
            assert hour.pv_kwh == 0, hour.start
    assert max(result.hours, key=lambda h: h.pv_kwh).start.astimezone(ITALY).hour in (12, 13)


def test_consumption_is_the_same_weekday_and_hour_of_recent_weeks() -> None:
    result = forecast([SOLAR, HOME, FAR_HOME], history(), NOW)
    home, far = result.plants[1], result.plants[2]
    assert home.consumption_basis == far.consumption_basis == "history"
    for i, at in enumerate(FIRST + k * HOUR for k in range(48)):
        assert home.consumption_kwh[i] == pytest.approx(home_load(at)), at
    # Monday 20:00 (twice the Tuesday's) is in the horizon.
    monday_evening = datetime(2025, 6, 16, 20, tzinfo=ITALY).astimezone(UTC)
    assert home.consumption_kwh[(monday_evening - FIRST) // HOUR] == pytest.approx(3.0)
    assert far.consumption_kwh == pytest.approx([0.5] * 48)
    assert result.plants[0].consumption_basis == "none"


def test_nothing_is_negative_and_shared_energy_is_the_engines_min_per_substation() -> None:
    result = forecast([SOLAR, HOME, FAR_HOME], history(), NOW)
    for i, hour in enumerate(result.hours):
        for value in (
            hour.pv_kwh, hour.consumption_kwh, hour.fed_in_kwh, hour.withdrawn_kwh,
            hour.shared_kwh, hour.surplus_kwh,
        ):  # fmt: skip
            assert value >= 0
        # The far home is on another substation: only the near home shares the PV.
        near = min(result.plants[0].fed_in_kwh[i], result.plants[1].withdrawn_kwh[i])
        assert hour.shared_kwh == pytest.approx(near, abs=0.001)
        assert hour.surplus_kwh == pytest.approx(
            max(0.0, hour.fed_in_kwh - hour.withdrawn_kwh), abs=1e-9
        )


def test_best_hours_are_where_the_surplus_is_greatest() -> None:
    result = forecast([SOLAR, HOME, FAR_HOME], history(), NOW)
    best = result.best_hours(6)
    assert len(best) == 6
    surpluses = [h.surplus_kwh for h in best]
    assert surpluses == sorted(surpluses, reverse=True)
    chosen = {h.start for h in best}
    assert all(h.surplus_kwh <= surpluses[-1] for h in result.hours if h.start not in chosen)
    assert all(9 <= h.start.astimezone(ITALY).hour <= 17 for h in best)
    # No PV: no surplus, no best hour.
    assert forecast([HOME], history(), NOW).best_hours() == []


def test_without_history_defaults_say_so() -> None:
    result = forecast([SOLAR, HOME], [], NOW)
    assert result.plants[0].performance_ratio == DEFAULT_PERFORMANCE_RATIO
    assert result.plants[0].performance_ratio_basis == "default"
    assert result.plants[1].consumption_basis == "standard_profile"
    assert all(v > 0 for v in result.plants[1].consumption_kwh)
    # History outside the window (or of other plants) is ignored.
    old = [
        IntervalQuantities(1, PAST - HOUR * 24, "iot", 99.0, 0.0, 99.0, 0.0, "derived"),
        IntervalQuantities(9, FIRST - HOUR, "iot", 99.0, 0.0, 99.0, 0.0, "derived"),
    ]
    assert forecast([SOLAR], old, NOW).plants[0].performance_ratio_basis == "default"


def test_the_ratio_keeps_the_plants_own_daily_shape() -> None:
    """A plant shaded in the morning: its afternoons are forecast nearer the clear sky."""
    sky = clear_sky_per_kw("Lombardia", PAST, FIRST)
    items = []
    for i, kwh in enumerate(sky):
        at = PAST + i * HOUR
        ratio = 0.3 if at.astimezone(ITALY).hour < 13 else 0.9
        items.append(IntervalQuantities(1, at, "iot", ratio * 10 * kwh, 0.0, 0.0, 0.0, "derived"))
    solar = forecast([SOLAR], items, NOW).plants[0]
    ahead = clear_sky_per_kw("Lombardia", FIRST, FIRST + 48 * HOUR)
    for i, at in enumerate(FIRST + k * HOUR for k in range(48)):
        hour = at.astimezone(ITALY).hour
        if 8 <= hour <= 18:
            expected = (0.3 if hour < 13 else 0.9) * 10 * ahead[i]
            assert solar.pv_kwh[i] == pytest.approx(expected), at
    assert solar.performance_ratio is not None and 0.3 < solar.performance_ratio < 0.9
