"""What devices send, turned into one shape (:class:`Sample`).

Formats, chosen by the topic (see topics.py):

``.../measurements`` -- the specification's message::

    {"device_id": "DEV1", "plant_id": 123, "timestamp": "2025-09-04T10:00:00Z",
     "energy_mode": "cumulative",            # optional; or "interval"
     "interval_s": 900,                      # optional, for energy_mode "interval"
     "measurements": {"energy_produced": 15.5, "energy_consumed": 8.2,     # kWh
                      "power_produced": 3.1, "power_consumed": 1.6,        # kW
                      "voltage": 230.5, "current": 13.7, "frequency": 50.0,
                      "power_factor": 0.95},
     "status": {"battery_level": 85, "signal_strength": -45}}

  The energies are cumulative registers (kWh since installation, as a meter
  displays them) unless ``energy_mode`` is ``interval``: then they are the
  energy of the ``interval_s`` seconds ending at ``timestamp``. A timestamp
  must carry its offset (``Z`` or ``+01:00``).

``.../measurements/shelly/...`` -- Shelly, any sub-path:
  * Gen2 (Pro 3EM, Pro EM): the ``NotifyStatus``/``NotifyFullStatus`` RPC
    notifications (``{"method": "NotifyStatus", "params": {"ts": ..., "em:0":
    {...}, "emdata:0": {...}}}``) or a ``Shelly.GetStatus`` result (stamped by
    ``sys.unixtime``). ``em:N`` (``EM.GetStatus``) gives power, voltage, current,
    pf, frequency; ``emdata:N`` (``EMData.GetStatus``) the registers
    ``total_act``/``total_act_ret`` (Wh); ``em1:N``/``em1data:N`` (Pro EM) the same
    per channel, summed. Other RPC methods are ignored.
  * Gen1 (EM, 3EM): the ``/status`` document (``emeters[]`` with ``total``,
    ``total_returned`` in Wh, stamped by ``unixtime``). The per-value topics
    (``emeter/N/energy``...) carry no timestamp, so a redelivered value could
    not be told from a new one: they are refused with that reason.

``.../measurements/tasmota/...`` -- Tasmota ``tele/.../SENSOR``::

    {"Time": "2025-09-04T12:00:00", "ENERGY": {"Total": 123.456, "ExportActive": 4.2,
     "Power": 850, "Voltage": 231, "Current": 3.9, "Factor": 0.94, "Frequency": 50}}

  ``Total``/``ExportActive`` are kWh registers; a ``Time`` without offset is the
  device's local time (``naive_time_zone``). Other Tasmota topics (STATE, LWT,
  INFO...) are ignored.

Meters at the point of connection count imported energy as consumed and
exported (returned) energy as produced; a negative active power is export.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal, TypeVar
from uuid import UUID

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from iot_service.mqtt.topics import DeviceTopic

_M = TypeVar("_M", bound=BaseModel)

PRODUCED = "energy_produced"
CONSUMED = "energy_consumed"


class Unusable(Exception):
    """The message cannot be used; the reason goes with it to the dead-letter topic."""


class Ignored(Exception):
    """A message a meter sends that carries nothing we use (e.g. Tasmota LWT)."""


# Not frozen: building a frozen dataclass of this size costs ~4 us, once per
# reading on the bridge's hot path. Nothing changes a sample once made.
@dataclass(slots=True)
class Sample:
    timestamp: datetime
    # Cumulative registers (kWh), keyed by PRODUCED/CONSUMED.
    registers: dict[str, float] = field(default_factory=dict)
    # Interval energy (kWh) reported by the device itself, with its length.
    interval_energy: dict[str, float] = field(default_factory=dict)
    interval_s: int | None = None
    power_produced_kw: float | None = None
    power_consumed_kw: float | None = None
    voltage: float | None = None
    current: float | None = None
    frequency: float | None = None
    power_factor: float | None = None
    battery_level: float | None = None
    signal_strength: float | None = None


@dataclass(frozen=True)
class StatusReport:
    state: Literal["ONLINE", "ERROR"]
    detail: str | None
    battery_level: float | None
    signal_strength: float | None


@dataclass(frozen=True)
class Ack:
    command_id: UUID
    result: Literal["OK", "ERROR"]
    detail: str | None


# --------------------------------------------------------------- spec format

_Strict = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True)


class _SpecMeasurements(BaseModel):
    model_config = _Strict
    energy_produced: float | None = Field(default=None, ge=0)
    energy_consumed: float | None = Field(default=None, ge=0)
    power_produced: float | None = Field(default=None, ge=0)
    power_consumed: float | None = Field(default=None, ge=0)
    voltage: float | None = Field(default=None, ge=0, le=100_000)
    current: float | None = Field(default=None, ge=0)
    frequency: float | None = Field(default=None, ge=0, le=1000)
    power_factor: float | None = Field(default=None, ge=-1, le=1)


class _SpecStatus(BaseModel):
    model_config = _Strict
    battery_level: float | None = Field(default=None, ge=0, le=100)
    signal_strength: float | None = Field(default=None, ge=-200, le=100)
    state: Literal["ONLINE", "ERROR"] = "ONLINE"
    error: str | None = Field(default=None, max_length=500)


class _SpecMessage(BaseModel):
    model_config = _Strict
    device_id: str | None = None
    plant_id: int | None = None
    timestamp: AwareDatetime
    energy_mode: Literal["cumulative", "interval"] = "cumulative"
    interval_s: int | None = Field(default=None, ge=1, le=86_400)
    measurements: _SpecMeasurements
    status: _SpecStatus | None = None


class _StatusMessage(BaseModel):
    model_config = _Strict
    device_id: str | None = None
    plant_id: int | None = None
    timestamp: AwareDatetime | None = None
    status: _SpecStatus


class _AckMessage(BaseModel):
    model_config = _Strict
    command_id: UUID
    result: Literal["OK", "ERROR"] = "OK"
    detail: str | None = Field(default=None, max_length=500)


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unusable(f"not JSON: {exc}") from exc


def _validate_json(model: type[_M], payload: bytes) -> _M:
    """Parse and validate in one pass (pydantic's own JSON parser: the bridge's hot path)."""
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        raise _unusable(exc) from exc


def _unusable(exc: ValidationError) -> Unusable:
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return Unusable(f"not JSON: {first['msg']}")
    where = ".".join(str(p) for p in first["loc"]) or "message"
    return Unusable(f"{where}: {first['msg']}")


def _same_device(topic: DeviceTopic, device_id: str | None, plant_id: int | None) -> None:
    if device_id is not None and device_id != topic.device_id:
        raise Unusable("device_id in the payload does not match the topic")
    if plant_id is not None and plant_id != topic.plant_id:
        raise Unusable("plant_id in the payload does not match the topic")


# What _SpecMeasurements and _SpecStatus allow, for the fast path below.
_MEASUREMENT_BOUNDS: dict[str, tuple[float, float]] = {
    "energy_produced": (0, math.inf),
    "energy_consumed": (0, math.inf),
    "power_produced": (0, math.inf),
    "power_consumed": (0, math.inf),
    "voltage": (0, 100_000),
    "current": (0, math.inf),
    "frequency": (0, 1000),
    "power_factor": (-1, 1),
}
_STATUS_BOUNDS: dict[str, tuple[float, float]] = {
    "battery_level": (0, 100),
    "signal_strength": (-200, 100),
}
# The timestamps the fast path reads itself: RFC 3339 with an offset, which
# datetime.fromisoformat and pydantic read alike.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)


def _plain_number(value: Any, low: float, high: float) -> float | None:
    """``value`` as pydantic's bounded float would give it, if it is a plain
    JSON number within bounds; None otherwise (the fast path gives up)."""
    if (type(value) is float or type(value) is int) and low <= value <= high:
        return float(value)
    return None


def _values(raw: Any, bounds: dict[str, tuple[float, float]]) -> dict[str, float | None] | None:
    if type(raw) is not dict:
        return None
    out: dict[str, float | None] = {}
    for name, (low, high) in bounds.items():
        value = raw.get(name)
        if value is not None:
            value = _plain_number(value, low, high)
            if value is None:
                return None
        out[name] = value
    return out


def _fast_spec(topic: DeviceTopic, payload: bytes) -> Sample | None:
    """The specification's message as most devices send it, read without
    pydantic (the bridge's hot path: ~5 us instead of ~20). It accepts only
    what ``_SpecMessage`` accepts, with the same values; for anything else
    (an error, or a form it does not read itself, like a number as a string)
    it returns None and ``_SpecMessage`` decides, with its reason."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if type(body) is not dict:
        return None
    device_id = body.get("device_id")
    plant_id = body.get("plant_id")
    if not (device_id is None or type(device_id) is str):
        return None
    if not (plant_id is None or type(plant_id) is int):
        return None
    stamp = body.get("timestamp")
    if type(stamp) is not str or _RFC3339.fullmatch(stamp) is None:
        return None
    try:
        timestamp = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    mode = body.get("energy_mode", "cumulative")
    interval_s = body.get("interval_s")
    if mode not in ("cumulative", "interval"):
        return None
    if not (interval_s is None or (type(interval_s) is int and 1 <= interval_s <= 86_400)):
        return None
    m = _values(body.get("measurements"), _MEASUREMENT_BOUNDS)
    if m is None:
        return None
    battery = signal_strength = None
    status = body.get("status")
    if status is not None:
        s = _values(status, _STATUS_BOUNDS)
        if s is None or status.get("state", "ONLINE") not in ("ONLINE", "ERROR"):
            return None
        error = status.get("error")
        if not (error is None or (type(error) is str and len(error) <= 500)):
            return None
        battery, signal_strength = s["battery_level"], s["signal_strength"]
    _same_device(topic, device_id, plant_id)
    energies = {
        k: v
        for k, v in ((PRODUCED, m["energy_produced"]), (CONSUMED, m["energy_consumed"]))
        if v is not None
    }
    if mode == "interval" and energies and interval_s is None:
        raise Unusable("interval_s: required when energy_mode is interval")
    cumulative = mode == "cumulative"
    return Sample(
        timestamp=timestamp.astimezone(UTC),
        registers=energies if cumulative else {},
        interval_energy={} if cumulative else energies,
        interval_s=None if cumulative else interval_s,
        power_produced_kw=m["power_produced"],
        power_consumed_kw=m["power_consumed"],
        voltage=m["voltage"],
        current=m["current"],
        frequency=m["frequency"],
        power_factor=m["power_factor"],
        battery_level=battery,
        signal_strength=signal_strength,
    )


def parse_spec(topic: DeviceTopic, payload: bytes) -> Sample:
    fast = _fast_spec(topic, payload)
    return fast if fast is not None else _pydantic_spec(topic, payload)


def _pydantic_spec(topic: DeviceTopic, payload: bytes) -> Sample:
    message = _validate_json(_SpecMessage, payload)
    _same_device(topic, message.device_id, message.plant_id)
    m = message.measurements
    energies = {
        k: v
        for k, v in ((PRODUCED, m.energy_produced), (CONSUMED, m.energy_consumed))
        if v is not None
    }
    if message.energy_mode == "interval" and energies and message.interval_s is None:
        raise Unusable("interval_s: required when energy_mode is interval")
    cumulative = message.energy_mode == "cumulative"
    status = message.status
    return Sample(
        timestamp=message.timestamp.astimezone(UTC),
        registers=energies if cumulative else {},
        interval_energy={} if cumulative else energies,
        interval_s=None if cumulative else message.interval_s,
        power_produced_kw=m.power_produced,
        power_consumed_kw=m.power_consumed,
        voltage=m.voltage,
        current=m.current,
        frequency=m.frequency,
        power_factor=m.power_factor,
        battery_level=status.battery_level if status else None,
        signal_strength=status.signal_strength if status else None,
    )


def parse_status(topic: DeviceTopic, payload: bytes) -> StatusReport:
    message = _validate_json(_StatusMessage, payload)
    _same_device(topic, message.device_id, message.plant_id)
    s = message.status
    return StatusReport(s.state, s.error, s.battery_level, s.signal_strength)


def parse_ack(payload: bytes) -> Ack:
    message = _validate_json(_AckMessage, payload)
    return Ack(message.command_id, message.result, message.detail)


# -------------------------------------------------------------------- shelly


def _num(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Unusable(f"{where}: not a finite number")
    return float(value)


def _sum(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _epoch(value: Any, where: str) -> datetime:
    seconds = _num(value, where)
    # Gen1 reports 0 until its clock is set: no usable time.
    if seconds is None or seconds < 1_000_000_000:
        raise Unusable(f"{where}: no valid device time")
    return datetime.fromtimestamp(seconds, UTC)


def _power_split(watts: float | None) -> tuple[float | None, float | None]:
    """(produced_kw, consumed_kw) from a signed active power in W."""
    if watts is None:
        return None, None
    return (round(-watts / 1000, 6), 0.0) if watts < 0 else (0.0, round(watts / 1000, 6))


def _registers_wh(imported: float | None, exported: float | None) -> dict[str, float]:
    out = {}
    if imported is not None:
        out[CONSUMED] = round(imported / 1000, 6)
    if exported is not None:
        out[PRODUCED] = round(exported / 1000, 6)
    for name, kwh in out.items():
        if kwh < 0:
            raise Unusable(f"{name}: negative register")
    return out


def _shelly_gen1(body: dict[str, Any]) -> Sample:
    meters = body["emeters"]
    if not isinstance(meters, list) or not meters:
        raise Unusable("emeters: expected a non-empty list")
    rows = [m for m in meters if isinstance(m, dict) and m.get("is_valid", True) is not False]
    if not rows:
        raise Unusable("emeters: no valid meter")

    def col(name: str) -> list[float | None]:
        return [_num(r.get(name), f"emeters.{name}") for r in rows]

    produced, consumed = _power_split(_sum(col("power")))
    return Sample(
        timestamp=_epoch(body.get("unixtime"), "unixtime"),
        registers=_registers_wh(_sum(col("total")), _sum(col("total_returned"))),
        power_produced_kw=produced,
        power_consumed_kw=consumed,
        voltage=_mean(col("voltage")),
        current=_sum(col("current")),
        power_factor=_mean(col("pf")),
    )


def _components(status: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [
        v for k, v in sorted(status.items()) if k.startswith(f"{kind}:") and isinstance(v, dict)
    ]


def _shelly_gen2(status: dict[str, Any], ts: datetime) -> Sample:
    em = _components(status, "em")
    emdata = _components(status, "emdata")
    em1 = _components(status, "em1")
    em1data = _components(status, "em1data")
    if not (em or emdata or em1 or em1data):
        raise Ignored("no energy meter component")
    watts = _sum(
        [_num(c.get("total_act_power"), "em.total_act_power") for c in em]
        + [_num(c.get("act_power"), "em1.act_power") for c in em1]
    )
    imported = _sum(
        [_num(c.get("total_act"), "emdata.total_act") for c in emdata]
        + [_num(c.get("total_act_energy"), "em1data.total_act_energy") for c in em1data]
    )
    exported = _sum(
        [_num(c.get("total_act_ret"), "emdata.total_act_ret") for c in emdata]
        + [_num(c.get("total_act_ret_energy"), "em1data.total_act_ret_energy") for c in em1data]
    )
    produced, consumed = _power_split(watts)
    return Sample(
        timestamp=ts,
        registers=_registers_wh(imported, exported),
        power_produced_kw=produced,
        power_consumed_kw=consumed,
        voltage=_mean(
            [_num(c.get(f"{p}_voltage"), "em.voltage") for c in em for p in "abc"]
            + [_num(c.get("voltage"), "em1.voltage") for c in em1]
        ),
        current=_sum(
            [_num(c.get("total_current"), "em.total_current") for c in em]
            + [_num(c.get("current"), "em1.current") for c in em1]
        ),
        frequency=_mean(
            [_num(c.get(f"{p}_freq"), "em.freq") for c in em for p in "abc"]
            + [_num(c.get("freq"), "em1.freq") for c in em1]
        ),
        power_factor=_mean(
            [_num(c.get(f"{p}_pf"), "em.pf") for c in em for p in "abc"]
            + [_num(c.get("pf"), "em1.pf") for c in em1]
        ),
    )


def parse_shelly(topic: DeviceTopic, payload: bytes) -> Sample:
    path = (topic.rest or "").split("/")[1:]
    if "emeter" in path or "relay" in path:
        raise Unusable(
            "Shelly Gen1 per-value topics carry no timestamp; publish the /status JSON instead"
        )
    if path[-1:] == ["online"]:
        raise Ignored("Shelly online flag")
    body = _json(payload)
    if not isinstance(body, dict):
        raise Unusable("expected a JSON object")
    if "method" in body:
        if body["method"] not in ("NotifyStatus", "NotifyFullStatus"):
            raise Ignored(f"Shelly RPC {body['method']}")
        params = body.get("params")
        if not isinstance(params, dict):
            raise Unusable("params: expected an object")
        return _shelly_gen2(params, _epoch(params.get("ts"), "params.ts"))
    if "emeters" in body:
        return _shelly_gen1(body)
    sys_ = body.get("sys") if isinstance(body.get("sys"), dict) else {}
    ts_value = body.get("ts", sys_.get("unixtime") if isinstance(sys_, dict) else None)
    if any(k.split(":")[0] in ("em", "emdata", "em1", "em1data") for k in body):
        return _shelly_gen2(body, _epoch(ts_value, "ts"))
    raise Unusable("not a Shelly status we know (NotifyStatus, Shelly.GetStatus, Gen1 /status)")


# ------------------------------------------------------------------- tasmota


def _tasmota_number(value: Any, where: str, combine: str) -> float | None:
    if isinstance(value, list):
        parts = [_num(v, where) for v in value]
        return _sum(parts) if combine == "sum" else _mean(parts)
    return _num(value, where)


def parse_tasmota(topic: DeviceTopic, payload: bytes, local_zone: tzinfo) -> Sample:
    last = (topic.rest or "").rsplit("/", 1)[-1]
    if last != "SENSOR":
        raise Ignored(f"Tasmota {last}")
    body = _json(payload)
    if not isinstance(body, dict) or not isinstance(body.get("ENERGY"), dict):
        raise Unusable("ENERGY: missing")
    raw_time = body.get("Time")
    try:
        stamp = datetime.fromisoformat(str(raw_time))
    except ValueError as exc:
        raise Unusable(f"Time: not an ISO time ({raw_time!r})") from exc
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=local_zone)
    energy = body["ENERGY"]
    total = _tasmota_number(energy.get("Total"), "ENERGY.Total", "sum")
    export = _tasmota_number(energy.get("ExportActive"), "ENERGY.ExportActive", "sum")
    registers = {k: v for k, v in ((CONSUMED, total), (PRODUCED, export)) if v is not None}
    if any(v < 0 for v in registers.values()):
        raise Unusable("ENERGY: negative register")
    produced, consumed = _power_split(_tasmota_number(energy.get("Power"), "ENERGY.Power", "sum"))
    return Sample(
        timestamp=stamp.astimezone(UTC),
        registers=registers,
        power_produced_kw=produced,
        power_consumed_kw=consumed,
        voltage=_tasmota_number(energy.get("Voltage"), "ENERGY.Voltage", "mean"),
        current=_tasmota_number(energy.get("Current"), "ENERGY.Current", "sum"),
        frequency=_tasmota_number(energy.get("Frequency"), "ENERGY.Frequency", "mean"),
        power_factor=_tasmota_number(energy.get("Factor"), "ENERGY.Factor", "mean"),
    )


def parse_measurement(topic: DeviceTopic, payload: bytes, local_zone: tzinfo) -> Sample:
    fmt = topic.format
    if fmt == "spec":
        return parse_spec(topic, payload)
    if fmt == "shelly":
        return parse_shelly(topic, payload)
    if fmt == "tasmota":
        return parse_tasmota(topic, payload, local_zone)
    raise Unusable(f"unknown measurement format {fmt!r} (spec, shelly, tasmota)")
