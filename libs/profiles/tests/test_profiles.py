"""Properties of the profiles: night is dark, seasons and places order as physics says, the local
clock's 23- and 25-hour days come out right, and a household's year adds up to its annual kWh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from cerc_profiles import (
    ITALY,
    KWH_QUANTUM,
    HourlyEnergy,
    ProfileError,
    PvArray,
    household_kwh,
    italian_holidays,
    pv_kwh_per_kw,
)

BERGAMO = (45.69, 9.67)
CATANIA = (37.50, 15.09)


def day(year: int, month: int, dom: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, dom, tzinfo=ITALY)
    return start, datetime.combine(start.date() + timedelta(days=1), start.time(), ITALY)


def total(hours: list[HourlyEnergy]) -> Decimal:
    return sum((h.kwh for h in hours), Decimal(0))


def test_pv_is_zero_at_night_and_peaks_near_solar_noon() -> None:
    hours = pv_kwh_per_kw(*BERGAMO, *day(2025, 6, 21))
    assert len(hours) == 24
    by_local_hour = {h.local_start.hour: h.kwh for h in hours}
    for night in (0, 1, 2, 3, 4, 22, 23):
        assert by_local_hour[night] == 0
    assert all(h.kwh >= 0 for h in hours)
    # Solar noon at 9.67°E in June is about 13:25 CEST: the best hour is 12:00 or 13:00 local.
    best = max(hours, key=lambda h: h.kwh)
    assert best.local_start.hour in (12, 13)
    assert best.start.tzinfo == UTC and best.start.minute == 0


def test_pv_day_totals_are_plausible_and_order_by_season_and_latitude() -> None:
    summer = total(pv_kwh_per_kw(*BERGAMO, *day(2025, 6, 21)))
    winter = total(pv_kwh_per_kw(*BERGAMO, *day(2025, 12, 21)))
    winter_south = total(pv_kwh_per_kw(*CATANIA, *day(2025, 12, 21)))
    # A clear June day in Lombardy gives 5-7.5 kWh per kW of panels, a clear December day 1.5-4.
    assert Decimal(5) < summer < Decimal("7.5")
    assert Decimal("1.5") < winter < Decimal(4)
    assert winter_south > winter
    # One hour never exceeds the nameplate kW.
    assert all(h.kwh <= 1 for h in pv_kwh_per_kw(*CATANIA, *day(2025, 6, 21)))


def test_pv_orientation_matters() -> None:
    south = total(pv_kwh_per_kw(*BERGAMO, *day(2025, 3, 20)))
    north = total(pv_kwh_per_kw(*BERGAMO, *day(2025, 3, 20), PvArray(azimuth_deg=0.0)))
    east = pv_kwh_per_kw(*BERGAMO, *day(2025, 3, 20), PvArray(tilt_deg=60, azimuth_deg=90.0))
    assert north < south
    morning = sum((h.kwh for h in east if h.local_start.hour < 12), Decimal(0))
    afternoon = sum((h.kwh for h in east if h.local_start.hour >= 13), Decimal(0))
    assert morning > afternoon


def test_dst_days_have_23_and_25_hours_on_utc_instants() -> None:
    spring = pv_kwh_per_kw(*BERGAMO, *day(2025, 3, 30))
    autumn = household_kwh(Decimal(2700), *day(2025, 10, 26))
    assert len(spring) == 23 and len(autumn) == 25
    starts = [h.start for h in autumn]
    assert starts == sorted(set(starts))
    assert all(b - a == timedelta(hours=1) for a, b in pairwise(starts))
    # The repeated 02:00 local hour appears twice, with two offsets.
    repeated = [h.local_start for h in autumn if h.local_start.hour == 2]
    assert [r.utcoffset() for r in repeated] == [timedelta(hours=2), timedelta(hours=1)]


def test_household_year_adds_up_to_the_annual_kwh() -> None:
    start, end = datetime(2025, 1, 1, tzinfo=ITALY), datetime(2026, 1, 1, tzinfo=ITALY)
    hours = household_kwh(Decimal(2700), start, end)
    assert len(hours) == 8760
    assert abs(total(hours) - Decimal(2700)) <= KWH_QUANTUM * len(hours)
    assert all(h.kwh > 0 for h in hours)
    assert all(h.kwh.as_tuple().exponent == KWH_QUANTUM.as_tuple().exponent for h in hours)
    # A range crossing New Year takes each hour's share of its own year.
    across = household_kwh(Decimal(2700), datetime(2025, 12, 31, 23, tzinfo=ITALY), end + HOUR)
    assert [h.kwh for h in across[:1]] == [hours[-1].kwh]


HOUR = timedelta(hours=1)


def test_household_shape_by_hour_day_type_and_month() -> None:
    weekday = household_kwh(Decimal(2700), *day(2025, 1, 15))  # a Wednesday
    by_hour = [h.kwh for h in weekday]
    assert max(by_hour[17:22]) > 2 * min(by_hour[1:5])  # evening peak over the night trough
    winter = total(household_kwh(Decimal(2700), *day(2025, 1, 15)))
    summer = total(household_kwh(Decimal(2700), *day(2025, 7, 16)))  # also a Wednesday
    assert winter > summer
    # 25 April 2025 (Liberation Day, a Friday) has the shape of the Sunday after it, not of the
    # Friday before: same month, same day type, only the daily dynamisation factor differs.
    holiday = [h.kwh for h in household_kwh(Decimal(2700), *day(2025, 4, 25))]
    sunday = [h.kwh for h in household_kwh(Decimal(2700), *day(2025, 4, 27))]
    friday = [h.kwh for h in household_kwh(Decimal(2700), *day(2025, 4, 18))]

    def spread(a: list[Decimal], b: list[Decimal]) -> Decimal:
        ratios = [x / y for x, y in zip(a, b, strict=True)]
        return max(ratios) - min(ratios)

    assert spread(holiday, sunday) < Decimal("0.001")
    assert spread(holiday, friday) > Decimal("0.05")


def test_italian_holidays() -> None:
    assert datetime(2025, 4, 21).date() in italian_holidays(2025)  # Easter Monday
    assert datetime(2026, 10, 4).date() in italian_holidays(2026)
    assert datetime(2025, 10, 4).date() not in italian_holidays(2025)
    assert len(italian_holidays(2025)) == 11


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (datetime(2025, 1, 1), datetime(2025, 1, 2, tzinfo=UTC), "start"),
        (datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, 0, 30, tzinfo=UTC), "end"),
        (datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC), "end"),
        (datetime(2025, 1, 1, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC), "end"),
    ],
)
def test_bad_ranges_are_refused_naming_the_field(
    start: datetime, end: datetime, field: str
) -> None:
    with pytest.raises(ProfileError, match=rf"^{field}:"):
        pv_kwh_per_kw(*BERGAMO, start, end)
    with pytest.raises(ProfileError, match=rf"^{field}:"):
        household_kwh(Decimal(1000), start, end)


def test_bad_parameters_are_refused() -> None:
    start, end = day(2025, 6, 1)
    with pytest.raises(ProfileError, match=r"^latitude:"):
        pv_kwh_per_kw(91.0, 9.0, start, end)
    with pytest.raises(ProfileError, match=r"^tilt_deg:"):
        pv_kwh_per_kw(*BERGAMO, start, end, PvArray(tilt_deg=95))
    with pytest.raises(ProfileError, match=r"^annual_kwh:"):
        household_kwh(Decimal(-1), start, end)
