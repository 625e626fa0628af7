"""Events of the IoT service: devices (topic ``device.v1``, keyed by device id)
and accepted meter readings (topic ``measurement.v1``, keyed by plant id so a
plant's readings stay in order).

Readings are physical measurements, not money: floats are fine here. Energy
is per interval (kWh in the interval that ends at ``timestamp``), already
converted from cumulative counters by the bridge.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from cerc_shared.events.base import Event

# REVOKED: its credentials are gone from the broker and the bridge refuses it.
DeviceStatus = Literal["ONLINE", "OFFLINE", "ERROR", "REVOKED"]
ReadingSource = Literal["iot", "official", "manual"]
# Where a meter measures (the iot service's device registry knows it):
# ``grid_connection`` is the bidirectional meter at the POD, so its exported
# energy is fed into the grid (energia immessa) and its imported energy is
# withdrawn (energia prelevata); ``generator`` measures production only;
# ``load`` consumption only. Absent: the specification's message, read as
# production and consumption.
MeasuringPoint = Literal["grid_connection", "generator", "load"]


class _DeviceEvent(Event):
    topic: ClassVar[str] = "device.v1"
    device_id: str
    plant_id: int

    def key(self) -> str:
        return self.device_id


class DeviceRegistered(_DeviceEvent):
    type: Literal["device.registered"] = "device.registered"
    version: Literal[1] = 1
    model: str
    firmware: str | None = None
    interval_s: int


class DeviceRevoked(_DeviceEvent):
    type: Literal["device.revoked"] = "device.revoked"
    version: Literal[1] = 1
    # ``plant_left``: revoked by the iot service itself because the plant left
    # its community (or its owner left it); ``by_request``: through the API.
    reason: Literal["by_request", "plant_left"] = "by_request"


class DeviceStatusChanged(_DeviceEvent):
    type: Literal["device.status_changed"] = "device.status_changed"
    version: Literal[1] = 1
    status: DeviceStatus
    previous: DeviceStatus | None = None
    last_seen: datetime | None = None
    battery_level: float | None = None
    signal_strength: float | None = None


# The measured values of a reading, by their names in the catalogue (with units).
READING_FIELDS: tuple[str, ...] = (
    "energy_produced_kwh",
    "energy_consumed_kwh",
    # Grid exchange at the POD (energia immessa / prelevata).
    "energy_fed_in_kwh",
    "energy_withdrawn_kwh",
    "power_produced_kw",
    "power_consumed_kw",
    "voltage",
    "current",
    "frequency",
    "power_factor",
)


class Reading(BaseModel):
    """One reading of one device; the fields of the specification's message."""

    model_config = ConfigDict(frozen=True)

    device_id: str
    timestamp: datetime
    interval_s: int | None = Field(default=None, ge=1)
    energy_produced_kwh: float | None = Field(default=None, ge=0)
    energy_consumed_kwh: float | None = Field(default=None, ge=0)
    # Grid exchange at the POD in the interval; optional (added in a
    # backward-compatible way: readers that do not know them ignore them).
    energy_fed_in_kwh: float | None = Field(default=None, ge=0)
    energy_withdrawn_kwh: float | None = Field(default=None, ge=0)
    # A grid-connection meter may also give its export/import as produced/
    # consumed (what the bridge's adapters do): see ``MeasuringPoint``.
    measuring_point: MeasuringPoint | None = None
    power_produced_kw: float | None = None
    power_consumed_kw: float | None = None
    voltage: float | None = None
    current: float | None = None
    frequency: float | None = None
    power_factor: float | None = None


class MeasurementsAccepted(Event):
    """A batch of readings of one plant, accepted by the bridge (or a manual/official import)."""

    topic: ClassVar[str] = "measurement.v1"
    type: Literal["measurement.accepted"] = "measurement.accepted"
    version: Literal[1] = 1
    plant_id: int
    source: ReadingSource = "iot"
    readings: list[Reading]

    def key(self) -> str:
        return str(self.plant_id)
