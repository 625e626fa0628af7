"""Local market hours, and settlements at the edges of the calendar and of the input."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from cacer import ScenarioError
from cacer.hours import HourGrid
from cacer_scenarios import at, document, member, plant, point, price, reading, settle_document


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2025, 3, 30), 23), (date(2025, 10, 26), 25), (date(2025, 6, 1), 24)],
)
def test_days_have_23_24_or_25_market_hours(day: date, hours: int) -> None:
    grid = HourGrid.for_period(day, date.fromordinal(day.toordinal() + 1))
    assert grid.count == hours
    assert len(set(grid.local_labels())) == hours


def test_local_year_of_each_hour_follows_italian_time() -> None:
    grid = HourGrid.for_period(date(2024, 12, 31), date(2025, 1, 2))
    years = grid.local_years()
    # 2024-12-31 00:00+01:00 .. 23:00 is 2024 (24 hours); 2025-01-01 00:00+01:00 is 23:00 UTC
    assert np.count_nonzero(years == 2024) == 24
    assert np.count_nonzero(years == 2025) == 24


def _new_year_doc(trase: float | None) -> dict[str, object]:
    pv, home = "IT001E00000001", "IT001E00000002"
    return document(
        members=[member("a"), member("b")],
        points=[point(pv, "a", plant=plant(10)), point(home, "b")],
        readings=[
            reading(pv, at("2024-12-31", 12), fed=100),
            reading(home, at("2024-12-31", 12), withdrawn=100),
        ],
        prices=[price(at("2024-12-31", 12), 250)],
        start="2024-12-31",
        end="2025-01-02",
        trase=trase,
    )


def test_trase_from_the_table_and_a_missing_year_is_an_error() -> None:
    with pytest.raises(ScenarioError) as e:
        settle_document(_new_year_doc(trase=None))
    assert [str(p) for p in e.value.problems] == [
        "trase_eur_mwh: no TRASe value for 2025 in the table; pass trase_eur_mwh"
    ]
    one_day = _new_year_doc(trase=None)
    one_day["period"] = {"start": "2024-12-31", "end": "2025-01-01"}
    s = settle_document(one_day)
    # 2024's 10.57 €/MWh × 100 kWh = 1.057 € -> 1.06; TIP at Pz 250: 80 + 0 + 10 = 90 -> 9.00 €
    assert (s.refund_cents, s.incentive_cents) == (106, 900)
