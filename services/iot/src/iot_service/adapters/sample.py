"""The one shape every format is turned into, what a parser may refuse with,
and the number helpers the meters' native formats share."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

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


def json_body(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unusable(f"not JSON: {exc}") from exc


def number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Unusable(f"{where}: not a finite number")
    return float(value)


def sum_of(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def mean_of(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def power_split(watts: float | None) -> tuple[float | None, float | None]:
    """(produced_kw, consumed_kw) from a signed active power in W."""
    if watts is None:
        return None, None
    return (round(-watts / 1000, 6), 0.0) if watts < 0 else (0.0, round(watts / 1000, 6))
