"""Shelly meters: Gen2 RPC notifications and status, Gen1 ``/status``."""

from __future__ import annotations

from datetime import UTC, datetime
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


def _epoch(value: Any, where: str) -> datetime:
    seconds = number(value, where)
    # Gen1 reports 0 until its clock is set: no usable time.
    if seconds is None or seconds < 1_000_000_000:
        raise Unusable(f"{where}: no valid device time")
    return datetime.fromtimestamp(seconds, UTC)


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
        return [number(r.get(name), f"emeters.{name}") for r in rows]

    produced, consumed = power_split(sum_of(col("power")))
    return Sample(
        timestamp=_epoch(body.get("unixtime"), "unixtime"),
        registers=_registers_wh(sum_of(col("total")), sum_of(col("total_returned"))),
        power_produced_kw=produced,
        power_consumed_kw=consumed,
        voltage=mean_of(col("voltage")),
        current=sum_of(col("current")),
        power_factor=mean_of(col("pf")),
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
    watts = sum_of(
        [number(c.get("total_act_power"), "em.total_act_power") for c in em]
        + [number(c.get("act_power"), "em1.act_power") for c in em1]
    )
    imported = sum_of(
        [number(c.get("total_act"), "emdata.total_act") for c in emdata]
        + [number(c.get("total_act_energy"), "em1data.total_act_energy") for c in em1data]
    )
    exported = sum_of(
        [number(c.get("total_act_ret"), "emdata.total_act_ret") for c in emdata]
        + [number(c.get("total_act_ret_energy"), "em1data.total_act_ret_energy") for c in em1data]
    )
    produced, consumed = power_split(watts)
    return Sample(
        timestamp=ts,
        registers=_registers_wh(imported, exported),
        power_produced_kw=produced,
        power_consumed_kw=consumed,
        voltage=mean_of(
            [number(c.get(f"{p}_voltage"), "em.voltage") for c in em for p in "abc"]
            + [number(c.get("voltage"), "em1.voltage") for c in em1]
        ),
        current=sum_of(
            [number(c.get("total_current"), "em.total_current") for c in em]
            + [number(c.get("current"), "em1.current") for c in em1]
        ),
        frequency=mean_of(
            [number(c.get(f"{p}_freq"), "em.freq") for c in em for p in "abc"]
            + [number(c.get("freq"), "em1.freq") for c in em1]
        ),
        power_factor=mean_of(
            [number(c.get(f"{p}_pf"), "em.pf") for c in em for p in "abc"]
            + [number(c.get("pf"), "em1.pf") for c in em1]
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
    body = json_body(payload)
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
