"""Device payloads to samples: the specification's format, Shelly and Tasmota (no servers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from iot_service import adapters
from iot_service.adapters import spec
from iot_service.mqtt.topics import DeviceTopic, parse_topic

ROME = ZoneInfo("Europe/Rome")
BASE = "energy/plant/123/device/DEVICE001"


def topic(suffix: str) -> DeviceTopic:
    parsed = parse_topic(f"{BASE}/{suffix}")
    assert parsed is not None
    return parsed


def measure(suffix: str, body: object) -> adapters.Sample:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return adapters.parse_measurement(topic(suffix), raw, ROME)


SPEC = {
    "device_id": "DEVICE001",
    "plant_id": 123,
    "timestamp": "2025-09-04T10:00:00Z",
    "measurements": {
        "energy_produced": 15.5,
        "energy_consumed": 8.2,
        "power_produced": 3.1,
        "power_consumed": 1.6,
        "voltage": 230.5,
        "current": 13.7,
        "frequency": 50.0,
        "power_factor": 0.95,
    },
    "status": {"battery_level": 85, "signal_strength": -45, "last_seen": "2025-09-04T10:00:00Z"},
}


def test_topics_outside_the_contract_are_not_parsed() -> None:
    assert parse_topic("energy/plant/x/device/d1/measurements") is None
    assert parse_topic("energy/plant/1/device/d1/commands") is None
    assert parse_topic("energy/plant/1/device/d1/status/extra") is None
    t = parse_topic("energy/plant/1/device/d-1/measurements/tasmota/tele/SENSOR")
    assert t is not None and (t.plant_id, t.device_id, t.format) == (1, "d-1", "tasmota")


def test_the_specification_example_is_a_cumulative_sample() -> None:
    sample = measure("measurements", SPEC)
    assert sample.timestamp == datetime(2025, 9, 4, 10, tzinfo=UTC)
    assert sample.registers == {"energy_produced": 15.5, "energy_consumed": 8.2}
    assert sample.interval_energy == {}
    assert (sample.power_produced_kw, sample.voltage, sample.power_factor) == (3.1, 230.5, 0.95)
    assert (sample.battery_level, sample.signal_strength) == (85, -45)


def test_interval_mode_needs_its_length() -> None:
    body = {**SPEC, "energy_mode": "interval", "interval_s": 900}
    sample = measure("measurements", body)
    assert sample.interval_energy == {"energy_produced": 15.5, "energy_consumed": 8.2}
    assert sample.registers == {} and sample.interval_s == 900
    with pytest.raises(adapters.Unusable, match="interval_s"):
        measure("measurements", {**SPEC, "energy_mode": "interval"})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        ({**SPEC, "timestamp": "2025-09-04T10:00:00"}, "timestamp"),
        ({**SPEC, "measurements": {"energy_produced": -1}}, "energy_produced"),
        ({**SPEC, "measurements": {"power_factor": 1.5}}, "power_factor"),
        ({**SPEC, "device_id": "OTHER"}, "device_id"),
        ({**SPEC, "plant_id": 124}, "plant_id"),
        ({k: v for k, v in SPEC.items() if k != "measurements"}, "measurements"),
    ],
)
def test_unusable_spec_messages_say_why(body: object, reason: str) -> None:
    with pytest.raises(adapters.Unusable, match=reason):
        measure("measurements", body)


_STAMPS: list[object] = [
    "2025-09-04T12:00:00+02:00",
    "2025-09-04T10:00:00.25Z",
    "2025-09-04T10:00:00.123456-03:30",
    "2025-09-04 10:00:00Z",
    "2025-09-04T10:00:00",
    "2025-13-04T10:00:00Z",
    "2025-09-04T10:00Z",
    "2025-09-04T10:00:00.1234567Z",
    1757000000,
    None,
]
_MEASUREMENTS: list[tuple[str, object]] = [
    ("energy_produced", 0),
    ("energy_produced", -0.5),
    ("voltage", 100_001),
    ("voltage", 100_000),
    ("power_factor", -1),
    ("power_factor", 1.01),
    ("frequency", "50"),
    ("current", True),
    ("current", None),
    ("extra", "x"),
    ("energy_consumed", 10**20),
]
_STATUS: list[tuple[str, object]] = [
    ("battery_level", 101),
    ("battery_level", 100),
    ("signal_strength", -201),
    ("state", "ERROR"),
    ("state", "ASLEEP"),
    ("error", "x" * 500),
    ("error", "x" * 501),
    ("error", 5),
]
_TOP: list[tuple[str, object]] = [
    ("device_id", "OTHER"),
    ("device_id", 7),
    ("plant_id", 124),
    ("plant_id", "123"),
    ("plant_id", 123.0),
    ("plant_id", True),
    ("energy_mode", "interval"),
    ("energy_mode", "delta"),
    ("interval_s", 900),
    ("interval_s", 0),
    ("interval_s", 900.0),
    ("measurements", []),
]


def _variants() -> list[object]:
    """The specification's message in forms the fast path reads itself and
    forms it leaves to pydantic (valid or not)."""
    measurements: dict[str, object] = SPEC["measurements"]  # type: ignore[assignment]
    status: dict[str, object] = SPEC["status"]  # type: ignore[assignment]
    out: list[object] = [SPEC, {**SPEC, "status": None}]
    out.append({k: v for k, v in SPEC.items() if k != "status"})
    out += [{**SPEC, "timestamp": stamp} for stamp in _STAMPS]
    out += [{**SPEC, "measurements": {**measurements, k: v}} for k, v in _MEASUREMENTS]
    out += [{**SPEC, "status": {**status, k: v}} for k, v in _STATUS]
    out += [{**SPEC, k: v} for k, v in _TOP]
    out.append({**SPEC, "energy_mode": "interval", "interval_s": 900})
    out.append({**SPEC, "energy_mode": "interval", "measurements": {"voltage": 230.0}})
    out += [b"", b"[]", b'{"timestamp": "2025-09-04T10:00:00Z"', b"NaN", b'{"a": 1e999}']
    return out


@pytest.mark.parametrize("body", _variants())
def test_the_fast_path_reads_the_specification_as_pydantic_does(body: object) -> None:
    """parse_spec reads common messages without pydantic: whatever it accepts
    must be exactly what the pydantic models give, and it must refuse nothing
    they accept (it leaves every doubtful message to them)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    where = topic("measurements")

    def outcome(parse: object) -> object:
        try:
            return parse(where, raw)  # type: ignore[operator]
        except adapters.Unusable as exc:
            return f"unusable: {exc}"

    fast = outcome(spec._fast_spec)
    slow = outcome(spec._pydantic_spec)
    if fast is not None:
        assert fast == slow
        if isinstance(fast, adapters.Sample):
            assert [type(getattr(fast, f)) for f in adapters.Sample.__dataclass_fields__] == [
                type(getattr(slow, f)) for f in adapters.Sample.__dataclass_fields__
            ]
    assert outcome(adapters.parse_spec) == slow


def test_the_fast_path_reads_the_common_forms_itself() -> None:
    where = topic("measurements")
    for body in (
        SPEC,
        {**SPEC, "timestamp": "2025-09-04T12:00:00.5+02:00"},
        {**SPEC, "status": None},
    ):
        assert spec._fast_spec(where, json.dumps(body).encode()) is not None


def test_shelly_gen2_notify_status_pro_3em() -> None:
    body = {
        "src": "shellypro3em-0cb815fc0000",
        "dst": "energy/plant/123/device/DEVICE001/measurements/shelly",
        "method": "NotifyStatus",
        "params": {
            "ts": 1756980000.25,
            "em:0": {
                "id": 0,
                "a_voltage": 230.0,
                "b_voltage": 231.0,
                "c_voltage": 232.0,
                "a_pf": 0.9,
                "b_pf": 1.0,
                "c_pf": 0.95,
                "a_freq": 50.0,
                "b_freq": 50.0,
                "c_freq": 50.0,
                "total_current": 6.5,
                "total_act_power": -1500.0,
            },
            "emdata:0": {"id": 0, "total_act": 123456.0, "total_act_ret": 7890.5},
        },
    }
    sample = measure("measurements/shelly/events/rpc", body)
    assert sample.timestamp == datetime.fromtimestamp(1756980000.25, UTC)
    assert sample.registers == {"energy_consumed": 123.456, "energy_produced": 7.8905}
    assert (sample.power_produced_kw, sample.power_consumed_kw) == (1.5, 0.0)
    assert sample.voltage == pytest.approx(231.0)
    assert sample.power_factor == pytest.approx(0.95)
    assert sample.current == 6.5 and sample.frequency == 50.0


def test_shelly_pro_em_get_status_sums_channels() -> None:
    body = {
        "sys": {"unixtime": 1756980000},
        "em1:0": {"id": 0, "act_power": 400.0, "voltage": 229.0, "current": 1.8, "pf": 0.9},
        "em1:1": {"id": 1, "act_power": 100.0, "voltage": 229.0, "current": 0.5, "pf": 0.8},
        "em1data:0": {"id": 0, "total_act_energy": 1000.0, "total_act_ret_energy": 0.0},
        "em1data:1": {"id": 1, "total_act_energy": 500.0, "total_act_ret_energy": 250.0},
    }
    sample = measure("measurements/shelly", body)
    assert sample.registers == {"energy_consumed": 1.5, "energy_produced": 0.25}
    assert (sample.power_produced_kw, sample.power_consumed_kw) == (0.0, 0.5)
    assert sample.current == pytest.approx(2.3)


def test_shelly_gen1_status_and_its_refusals() -> None:
    body = {
        "unixtime": 1756980000,
        "emeters": [
            {"power": 200.0, "pf": 0.9, "current": 1.0, "voltage": 230.0, "is_valid": True,
             "total": 1000.0, "total_returned": 10.0},
            {"power": 300.0, "pf": 0.8, "current": 1.5, "voltage": 232.0, "is_valid": True,
             "total": 2000.0, "total_returned": 20.0},
            {"power": 999.0, "is_valid": False, "total": 99999.0, "total_returned": 0.0},
        ],
    }  # fmt: skip
    sample = measure("measurements/shelly/status", body)
    assert sample.registers == {"energy_consumed": 3.0, "energy_produced": 0.03}
    assert sample.power_consumed_kw == 0.5 and sample.voltage == pytest.approx(231.0)
    with pytest.raises(adapters.Unusable, match="no timestamp"):
        measure("measurements/shelly/emeter/0/energy", b"1234")
    with pytest.raises(adapters.Unusable, match="device time"):
        measure("measurements/shelly/status", {**body, "unixtime": 0})
    with pytest.raises(adapters.Ignored):
        measure("measurements/shelly/events/rpc", {"method": "NotifyEvent", "params": {}})


def test_tasmota_sensor_in_local_time() -> None:
    body = {
        "Time": "2025-09-04T12:00:00",
        "ENERGY": {"TotalStartTime": "2024-01-01T00:00:00", "Total": 812.345,
                   "Yesterday": 9.1, "Today": 3.2, "Power": 850, "Voltage": 231,
                   "Current": 3.9, "Factor": 0.94, "Frequency": 50},
    }  # fmt: skip
    sample = measure("measurements/tasmota/tele/SENSOR", body)
    # 12:00 in Rome in September is 10:00 UTC (CEST).
    assert sample.timestamp == datetime(2025, 9, 4, 10, tzinfo=UTC)
    assert sample.registers == {"energy_consumed": 812.345}
    assert sample.power_consumed_kw == 0.85 and sample.power_factor == 0.94
    with_offset = {**body, "Time": "2025-09-04T12:00:00+00:00"}
    assert measure("measurements/tasmota/tele/SENSOR", with_offset).timestamp.hour == 12
    with pytest.raises(adapters.Ignored):
        measure("measurements/tasmota/tele/LWT", b"Online")
    with pytest.raises(adapters.Unusable, match="ENERGY"):
        measure("measurements/tasmota/tele/SENSOR", {"Time": "2025-09-04T12:00:00"})
    with pytest.raises(adapters.Unusable, match="Total"):
        measure("measurements/tasmota/tele/SENSOR", {**body, "ENERGY": {"Total": "lots"}})


def test_unknown_format_status_and_acks() -> None:
    with pytest.raises(adapters.Unusable, match="unknown measurement format"):
        measure("measurements/modbus", {})
    report = adapters.parse_status(
        topic("status"),
        json.dumps(
            {"status": {"battery_level": 40, "state": "ERROR", "error": "CT clamp"}}
        ).encode(),
    )
    assert (report.state, report.detail, report.battery_level) == ("ERROR", "CT clamp", 40)
    ack = adapters.parse_ack(
        json.dumps({"command_id": "5b1f8f3e-0000-4000-8000-000000000001"}).encode()
    )
    assert ack.command_id == UUID("5b1f8f3e-0000-4000-8000-000000000001") and ack.result == "OK"
    with pytest.raises(adapters.Unusable, match="command_id"):
        adapters.parse_ack(b'{"command_id": "nope"}')
