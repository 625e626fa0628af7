"""The settlement quantities per POD and interval (no servers): precedence per
settlement interval, exchange measured or derived per quarter hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from energy_service.quantities import IntervalQuantities, SourceSums, settle

HOUR = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)


def quarter(i: int) -> datetime:
    return HOUR + timedelta(minutes=15 * i)


def sums(
    source: str,
    produced: float | None = None,
    consumed: float | None = None,
    fed_in: float | None = None,
    withdrawn: float | None = None,
) -> SourceSums:
    return SourceSums(source, produced, consumed, fed_in, withdrawn)


def test_the_exchange_is_derived_per_quarter_hour_not_per_hour() -> None:
    # Production in the first half hour, consumption in the second: netted
    # over the hour nothing would cross the POD; per quarter hour 1 kWh is fed
    # in and 1 kWh withdrawn.
    quarters = [
        (1, quarter(0), sums("iot", produced=0.5, consumed=0.0)),
        (1, quarter(1), sums("iot", produced=0.5, consumed=0.0)),
        (1, quarter(2), sums("iot", produced=0.0, consumed=0.5)),
        (1, quarter(3), sums("iot", produced=0.0, consumed=0.5)),
    ]
    [hour] = settle(quarters)
    assert hour == IntervalQuantities(1, HOUR, "iot", 1.0, 1.0, 1.0, 1.0, "derived")
    assert hour.self_consumption_kwh == 0.0


def test_a_measured_exchange_is_taken_as_measured() -> None:
    quarters = [
        (1, quarter(0), sums("iot", produced=0.6, fed_in=0.4, withdrawn=0.0)),
        (1, quarter(1), sums("iot", produced=0.6, fed_in=0.1, withdrawn=0.05)),
    ]
    [hour] = settle(quarters)
    assert (hour.fed_in_kwh, hour.withdrawn_kwh, hour.exchange) == (0.5, 0.05, "measured")
    assert round(hour.self_consumption_kwh, 9) == 0.7


def test_official_supersedes_manual_and_iot_for_the_whole_hour() -> None:
    # One official figure for the hour (stamped in one quarter) wins over the
    # iot quarter hours of the same hour; the next hour stays iot.
    quarters = [(1, quarter(i), sums("iot", produced=1.0, consumed=0.25)) for i in range(8)] + [
        (1, quarter(3), sums("official", fed_in=2.0, withdrawn=0.1)),
        (1, quarter(2), sums("manual", consumed=9.0)),
    ]
    first, second = settle(quarters)
    assert (first.source, first.fed_in_kwh, first.withdrawn_kwh, first.exchange) == (
        "official", 2.0, 0.1, "measured",
    )  # fmt: skip
    assert (second.source, second.fed_in_kwh, second.withdrawn_kwh, second.exchange) == (
        "iot", 3.0, 0.0, "derived",
    )  # fmt: skip
    assert second.start == HOUR + timedelta(hours=1)


def test_manual_beats_iot_and_quarter_hour_settlement_keeps_quarters_apart() -> None:
    quarters = [
        (1, quarter(0), sums("iot", consumed=1.0)),
        (1, quarter(0), sums("manual", consumed=2.0)),
        (1, quarter(1), sums("iot", consumed=1.0)),
        (2, quarter(0), sums("iot", produced=3.0)),
    ]
    settled = settle(quarters, interval_s=900)
    assert [(q.plant_id, q.start, q.source, q.withdrawn_kwh, q.fed_in_kwh) for q in settled] == [
        (1, quarter(0), "manual", 2.0, 0.0),
        (2, quarter(0), "iot", 0.0, 3.0),
        (1, quarter(1), "iot", 1.0, 0.0),
    ]


def test_measured_and_derived_quarters_make_a_mixed_hour() -> None:
    quarters = [
        (1, quarter(0), sums("iot", fed_in=0.2)),
        (1, quarter(1), sums("iot", produced=0.3, consumed=0.1)),
        (1, quarter(2), sums("iot")),
    ]
    [hour] = settle(quarters)
    assert (round(hour.fed_in_kwh, 9), hour.exchange) == (0.4, "mixed")
