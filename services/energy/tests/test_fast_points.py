"""The ingestion's fast reader of ``measurement.accepted`` against the
catalogue's models (no servers): what it reads, it reads as they do; what it
does not read, they decide."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from cerc_shared.events import EventEnvelope
from cerc_shared.events.iot import MeasurementsAccepted, Reading
from energy_service import ingest
from energy_service.ingest import fast_points, points_of
from pydantic import ValidationError

AT = datetime(2025, 9, 4, 10, 0, tzinfo=UTC)


def _reading(device_id: str, interval_s: int | None, *values: float | None) -> dict[str, Any]:
    names = ["energy_produced_kwh", "energy_consumed_kwh", "power_produced_kw",
             "power_consumed_kw", "voltage", "current", "frequency", "power_factor"]  # fmt: skip
    head = {"device_id": device_id, "timestamp": "2025-09-04T10:00:00Z", "interval_s": interval_s}
    return head | dict(zip(names, values, strict=True))


def _bridge_event() -> dict[str, Any]:
    """An event in the form the IoT bridge writes (its tests hold that form
    to the catalogue's model_dump_json)."""
    return {
        "id": str(uuid.uuid4()),
        "type": "measurement.accepted",
        "version": 1,
        "occurred_at": "2025-09-04T10:00:01.123456Z",
        "producer": "iot-bridge",
        "correlation_id": None,
        "key": "42",
        "data": {
            "type": "measurement.accepted",
            "version": 1,
            "plant_id": 42,
            "source": "iot",
            "readings": [
                _reading("m1", 900, 0.25, 0.5, 2.0, None, 230.1, None, None, None),
                _reading("m2", None, None, None, None, None, None, None, None, None),
                _reading("m3", 60, 0.0, 1.0, 0.0, 1.5, 229.0, 3.2, 50.0, -0.9),
            ],
        },
    }


def _catalogue_event() -> dict[str, Any]:
    event = MeasurementsAccepted(
        plant_id=7,
        source="manual",
        readings=[Reading(device_id="m1", timestamp=AT, interval_s=900, energy_consumed_kwh=1)],
    )
    body: dict[str, Any] = json.loads(
        EventEnvelope.wrap(event, producer="energy", correlation_id="c-1").model_dump_json()
    )
    return body


def _changed(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    body = _bridge_event()
    where = body
    for step in path[:-1]:
        where = where[step]
    if value is _DROP:
        del where[path[-1]]
    else:
        where[path[-1]] = value
    return body


_DROP = object()
R0 = ("data", "readings", 0)
_CHANGES: list[tuple[tuple[Any, ...], Any]] = [
    (("id",), "not-a-uuid"),
    (("id",), uuid.uuid4().hex),
    (("id",), _DROP),
    (("version",), "1"),
    (("occurred_at",), "2025-09-04T10:00:00"),
    (("occurred_at",), 5),
    (("producer",), None),
    (("key",), _DROP),
    (("correlation_id",), "abc"),
    (("correlation_id",), 3),
    (("data", "type"), "device.status_changed"),
    (("data", "version"), 2),
    (("data", "plant_id"), "42"),
    (("data", "plant_id"), 4.0),
    (("data", "source"), "guess"),
    (("data", "source"), _DROP),
    (("data", "readings"), {}),
    (("data", "readings"), []),
    ((*R0, "device_id"), 5),
    ((*R0, "timestamp"), "2025-09-04T12:00:00+02:00"),
    ((*R0, "timestamp"), "2025-09-04T10:00:00.5Z"),
    ((*R0, "timestamp"), "2025-09-04T10:00:00"),
    ((*R0, "timestamp"), "2025-02-30T10:00:00Z"),
    ((*R0, "timestamp"), 1757000000),
    ((*R0, "interval_s"), 0),
    ((*R0, "interval_s"), 900.0),
    ((*R0, "energy_produced_kwh"), -0.1),
    ((*R0, "energy_produced_kwh"), 3),
    ((*R0, "energy_consumed_kwh"), "0.5"),
    ((*R0, "voltage"), True),
    ((*R0, "power_factor"), -5),
    ((*R0, "extra"), "ignored"),
    ((*R0, "energy_fed_in_kwh"), 0.3),
    ((*R0, "energy_fed_in_kwh"), -0.3),
    ((*R0, "energy_withdrawn_kwh"), "0.1"),
    ((*R0, "measuring_point"), "grid_connection"),
    ((*R0, "measuring_point"), "generator"),
    ((*R0, "measuring_point"), "roof"),
    ((*R0, "measuring_point"), 3),
    ((*R0,), "not a reading"),
]


def _variants() -> list[bytes]:
    out = [json.dumps(_bridge_event()).encode(), json.dumps(_catalogue_event()).encode()]
    out += [json.dumps(_changed(path, value)).encode() for path, value in _CHANGES]
    out += [b"", b"[]", b"{", b'{"data": null}']
    return out


def _slow(value: bytes) -> object:
    try:
        return points_of(EventEnvelope.model_validate_json(value))
    except ValidationError:
        return "unreadable"


@pytest.mark.parametrize("value", _variants())
def test_the_fast_reader_agrees_with_the_catalogue(value: bytes) -> None:
    fast = fast_points(value)
    if fast is not None:
        assert fast == _slow(value)
        assert [type(v) for p in fast for v in p.values.values()] == [  # type: ignore[union-attr]
            type(v)
            for p in _slow(value)  # type: ignore[attr-defined]
            for v in p.values.values()
        ]


def test_the_bridge_s_events_take_the_fast_path() -> None:
    no_interval = _changed((*R0, "interval_s"), None)
    for body in (_bridge_event(), _catalogue_event(), no_interval):
        points = fast_points(json.dumps(body).encode())
        assert points is not None and points == _slow(json.dumps(body).encode())


@pytest.mark.parametrize("value", _variants())
def test_a_timestamp_read_before_reads_the_same(value: bytes) -> None:
    # The second read of each record finds its timestamps in the reader's cache.
    first, again = fast_points(value), fast_points(value)
    assert first == again
    if again is not None:
        assert again == _slow(value)


def test_the_timestamp_cache_keeps_only_valid_timestamps_and_stays_bounded() -> None:
    bad = _changed((*R0, "timestamp"), "2025-02-30T10:00:00Z")
    assert fast_points(json.dumps(bad).encode()) is None
    assert "2025-02-30T10:00:00Z" not in ingest._TIMESTAMPS
    assert fast_points(json.dumps(bad).encode()) is None
    for second in range(ingest._TIMESTAMPS_MAX + 10):
        stamp = f"2025-09-04T10:{second // 60 % 60:02d}:{second % 60:02d}.{second:06d}Z"
        body = _changed((*R0, "timestamp"), stamp)
        points = fast_points(json.dumps(body).encode())
        assert points is not None and points == _slow(json.dumps(body).encode())
        assert len(ingest._TIMESTAMPS) <= ingest._TIMESTAMPS_MAX


def test_a_grid_connection_meter_s_export_and_import_are_fed_in_and_withdrawn() -> None:
    # The bridge's adapters give a meter at the POD its export as produced and
    # its import as consumed; at the grid connection they are the exchange.
    body = _changed((*R0, "measuring_point"), "grid_connection")
    points = fast_points(json.dumps(body).encode())
    assert points is not None and points == _slow(json.dumps(body).encode())
    values = points[0].values  # type: ignore[union-attr]
    assert values["energy_fed_in_kwh"] == 0.25
    assert values["energy_withdrawn_kwh"] == 0.5
    assert values["energy_produced_kwh"] is None and values["energy_consumed_kwh"] is None
    # A measured exchange beside them is kept as it is.
    body["data"]["readings"][0]["energy_fed_in_kwh"] = 0.2
    points = fast_points(json.dumps(body).encode())
    assert points is not None and points[0].values["energy_fed_in_kwh"] == 0.2  # type: ignore[union-attr]
