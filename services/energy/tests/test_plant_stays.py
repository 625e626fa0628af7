"""A plant with two stays in the community (it left and came back) counts in
the hours of each, once, and not in the days between (no servers)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from cerc_shared.readmodels import PlantStay
from energy_service.aggregation import aggregate
from energy_service.completeness import completeness
from energy_service.quantities import IntervalQuantities


def _stay(plant_id: int, valid_from: date, valid_to: date | None) -> PlantStay:
    return PlantStay(
        plant_id, 1, 30, valid_from, valid_to, f"IT001E0000000{plant_id}", "AC001", "NORD",
        Decimal("6"), "PV", None, None, None,
    )  # fmt: skip


# In the community on 1 and 3 January 2025 (Italian days), not on the 2nd.
STAYS = [_stay(7, date(2025, 1, 1), date(2025, 1, 2)), _stay(7, date(2025, 1, 3), None)]
START = datetime(2024, 12, 31, 23, tzinfo=UTC)  # 1 January, 00:00 in Italy


def _hour(index: int) -> IntervalQuantities:
    return IntervalQuantities(
        7, START + timedelta(hours=index), "official", 1.0, 0.0, 1.0, 0.0, "measured"
    )


def test_a_plant_counts_in_each_of_its_stays_and_not_between() -> None:
    settled = [_hour(i) for i in range(72)]
    days = aggregate(STAYS, settled, START, START + timedelta(days=3), "day", with_shared=True)
    assert [d.coverage["official"] for d in days] == [24, 0, 24]
    assert [d.coverage["missing"] for d in days] == [0, 0, 0]
    assert [d.produced_kwh for d in days] == [24.0, 0.0, 24.0]
    assert [d.shared_wh for d in days] == [0, 0, 0]

    [report] = completeness(STAYS, settled[:24], date(2025, 1, 1), {})
    # 31 days, one of them (the 2nd) outside the stays; the 3rd on has no data.
    assert (report.plant_id, report.hours) == (7, 30 * 24)
    assert report.by_source["official"] == 24
    assert report.by_source["missing"] == 29 * 24
