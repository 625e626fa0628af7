"""Request and response models of the measurements API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

from cerc_shared.events.iot import READING_FIELDS, ReadingSource
from cerc_shared.ids import MAX_BIGINT
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

Resolution = Literal["raw", "15min", "hour", "day", "month"]
SourceName = ReadingSource
# What an aggregated figure came from: one source, or several across its intervals.
BucketSource = Literal["iot", "official", "manual", "mixed"]
# How a bucket's grid exchange was obtained: measured at the POD, derived per
# quarter hour from production and consumption, both, or nothing to go on.
ExchangeKind = Literal["measured", "derived", "mixed", "none"]

MAX_READINGS_PER_REQUEST = 1000
# A clock a little ahead of ours is not "the future".
FUTURE_TOLERANCE = timedelta(minutes=5)
EARLIEST_READING = datetime(2000, 1, 1, tzinfo=UTC)

Energy = Field(default=None, ge=0, le=1_000_000, allow_inf_nan=False)
Quantity = Field(default=None, ge=-1_000_000, le=1_000_000, allow_inf_nan=False)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadingIn(_Strict):
    """A manual or official reading: energy in the interval that ends at ``timestamp``."""

    # Defaults to the source's name ("manual", "official"): a meter read by hand
    # or a distributor file has no device of its own.
    device_id: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:@-]+$"
    )
    timestamp: AwareDatetime
    interval_s: int | None = Field(default=None, ge=1, le=31 * 86_400)
    energy_produced_kwh: float | None = Energy
    energy_consumed_kwh: float | None = Energy
    # Grid exchange at the POD: energia immessa / prelevata.
    energy_fed_in_kwh: float | None = Energy
    energy_withdrawn_kwh: float | None = Energy
    power_produced_kw: float | None = Quantity
    power_consumed_kw: float | None = Quantity
    voltage: float | None = Field(default=None, ge=0, le=1_000_000, allow_inf_nan=False)
    current: float | None = Quantity
    frequency: float | None = Field(default=None, ge=0, le=1000, allow_inf_nan=False)
    power_factor: float | None = Field(default=None, ge=-1, le=1, allow_inf_nan=False)

    @field_validator("timestamp")
    @classmethod
    def _not_in_the_future(cls, value: datetime) -> datetime:
        if value > datetime.now(UTC) + FUTURE_TOLERANCE:
            raise ValueError("a reading cannot be in the future")
        if value < EARLIEST_READING:
            raise ValueError("a reading before 2000-01-01 is not plausible")
        return value

    @model_validator(mode="after")
    def _measures_something(self) -> ReadingIn:
        if all(getattr(self, field) is None for field in READING_FIELDS):
            raise ValueError("a reading needs at least one measured value")
        return self


class ReadingsIn(_Strict):
    source: Literal["manual", "official"]
    readings: list[ReadingIn] = Field(min_length=1, max_length=MAX_READINGS_PER_REQUEST)


class PlantReadingsIn(ReadingsIn):
    plant_id: int = Field(ge=1, le=MAX_BIGINT)


class ReadingsAccepted(BaseModel):
    event_id: uuid.UUID
    plant_id: int
    source: SourceName
    readings: int


class RawReadingOut(BaseModel):
    """One stored reading; ``timestamp`` ends its interval."""

    timestamp: datetime
    plant_id: int
    device_id: str
    source: SourceName
    energy_produced_kwh: float | None
    energy_consumed_kwh: float | None
    energy_fed_in_kwh: float | None
    energy_withdrawn_kwh: float | None
    power_produced_kw: float | None
    power_consumed_kw: float | None
    voltage: float | None
    current: float | None
    frequency: float | None
    power_factor: float | None


class EnergyBucketOut(BaseModel):
    """Energy of one plant in ``(start, end]``, in Italian local time (Europe/Rome).

    Per settlement interval (the hour; the quarter-hour at 15min) the most
    authoritative source with data is taken: official, then manual, then iot.
    ``source`` names it, or is ``mixed`` when intervals of the bucket came from
    different sources; ``intervals_by_source`` counts them."""

    plant_id: int
    start: datetime
    end: datetime
    energy_produced_kwh: float
    energy_consumed_kwh: float
    energy_fed_in_kwh: float
    energy_withdrawn_kwh: float
    exchange: ExchangeKind
    source: BucketSource
    intervals_by_source: dict[str, int]
