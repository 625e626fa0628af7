"""Point identity in line protocol: the same reading always makes the same
line key (measurement, sorted tags, timestamp), whatever its values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from energy_service import timeseries
from energy_service.timeseries import DeviceStatusPoint, EnergyPoint, InvalidPoint, to_line

AT = datetime(2025, 3, 30, 1, 0, tzinfo=UTC)


def test_tag_set_is_plant_device_source_in_order_and_the_timestamp_is_utc_nanoseconds() -> None:
    rome = AT.astimezone(timezone(timedelta(hours=2)))
    first = to_line(EnergyPoint(7, "meter 1,a=b", "iot", AT, {"energy_consumed_kwh": 0.25}))
    again = to_line(EnergyPoint(7, "meter 1,a=b", "iot", rome, {"energy_consumed_kwh": 0.3}))
    assert first == (
        "energy_data,device_id=meter\\ 1\\,a\\=b,plant_id=7,source=iot "
        "energy_consumed=0.25 1743296400000000000"
    )
    assert first.rsplit(" ", 2)[0::2] == again.rsplit(" ", 2)[0::2]


def test_device_status_and_strings_are_escaped() -> None:
    line = to_line(DeviceStatusPoint(7, "m1", AT, 'ER"ROR', AT, 85.0, None))
    assert line == (
        'device_status,device_id=m1,plant_id=7 status="ER\\"ROR",'
        'last_seen="2025-03-30T01:00:00+00:00",battery_level=85.0 1743296400000000000'
    )


@pytest.mark.parametrize("device", ["", "a\nb", "x" * 201, "trailing\\"])
def test_unrepresentable_tags_are_refused(device: str) -> None:
    with pytest.raises(InvalidPoint):
        to_line(EnergyPoint(7, device, "iot", AT, {"voltage": 230.0}))


def test_a_reading_with_no_value_is_refused() -> None:
    with pytest.raises(InvalidPoint):
        to_line(EnergyPoint(7, "m1", "iot", AT, {"voltage": None}))


@pytest.mark.parametrize("device", ["", "a\nb", "x" * 201, "trailing\\"])
def test_a_refused_tag_is_refused_every_time(device: str) -> None:
    # Checked tags are remembered; refused ones never are.
    for _ in range(2):
        with pytest.raises(InvalidPoint):
            to_line(EnergyPoint(7, device, "iot", AT, {"voltage": 230.0}))
    assert device not in timeseries._TAGS


def test_remembered_tags_and_timestamps_stay_bounded_and_exact() -> None:
    for n in range(max(timeseries._TAGS_MAX, timeseries._STAMPS_MAX) + 10):
        at = AT + timedelta(microseconds=n)
        line = to_line(EnergyPoint(7, f"m {n}", "iot", at, {"voltage": 230.0}))
        assert line == (
            f"energy_data,device_id=m\\ {n},plant_id=7,source=iot voltage=230.0 "
            f"{1743296400000000000 + n * 1000}"
        )
        assert len(timeseries._TAGS) <= timeseries._TAGS_MAX
        assert len(timeseries._STAMPS) <= timeseries._STAMPS_MAX


def test_a_timestamp_without_a_timezone_is_refused_even_after_the_same_instant() -> None:
    to_line(EnergyPoint(7, "m1", "iot", AT, {"voltage": 230.0}))
    with pytest.raises(InvalidPoint):
        to_line(EnergyPoint(7, "m1", "iot", AT.replace(tzinfo=None), {"voltage": 230.0}))
