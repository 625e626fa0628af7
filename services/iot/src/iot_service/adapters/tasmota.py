"""Tasmota ``tele/.../SENSOR`` messages."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from iot_service.adapters.sample import (
    CONSUMED,
    PRODUCED,
    Ignored,
    Sample,
    Unusable,
    json_body,
    mean_of,
    number,
    power_split,
    sum_of,
)
from iot_service.mqtt.topics import DeviceTopic


def _tasmota_number(value: Any, where: str, combine: str) -> float | None:
    if isinstance(value, list):
        parts = [number(v, where) for v in value]
        return sum_of(parts) if combine == "sum" else mean_of(parts)
    return number(value, where)


def parse_tasmota(topic: DeviceTopic, payload: bytes, local_zone: tzinfo) -> Sample:
    last = (topic.rest or "").rsplit("/", 1)[-1]
    if last != "SENSOR":
        raise Ignored(f"Tasmota {last}")
    body = json_body(payload)
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
    produced, consumed = power_split(_tasmota_number(energy.get("Power"), "ENERGY.Power", "sum"))
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
