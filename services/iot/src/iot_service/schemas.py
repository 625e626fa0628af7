from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Literal

from cerc_shared.events.iot import DeviceStatus, MeasuringPoint
from cerc_shared.ids import MAX_BIGINT
from pydantic import BaseModel, ConfigDict, Field, field_validator

from iot_service.mqtt.topics import DEVICE_ID_PATTERN, RESERVED_PREFIX

CommandStatus = Literal["SENT", "ACKED", "FAILED", "EXPIRED"]

_Input = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DeviceCreate(BaseModel):
    model_config = _Input

    device_id: str = Field(pattern=DEVICE_ID_PATTERN, description="letters, digits, _ . -")
    plant_id: int = Field(ge=1, le=MAX_BIGINT)
    model: str = Field(min_length=1, max_length=100)
    firmware: str | None = Field(default=None, max_length=100)
    interval_s: int = Field(default=900, ge=10, le=86_400)
    measuring_point: MeasuringPoint | None = Field(
        default=None,
        description="grid_connection (export/import are fed-in/withdrawn), generator or load",
    )

    @field_validator("device_id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.lower().startswith(RESERVED_PREFIX):
            raise ValueError(f"device ids may not start with {RESERVED_PREFIX!r}")
        return value


class DevicePatch(BaseModel):
    model_config = _Input

    model: str | None = Field(default=None, min_length=1, max_length=100)
    firmware: str | None = Field(default=None, max_length=100)
    interval_s: int | None = Field(default=None, ge=10, le=86_400)


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    device_id: str = Field(validation_alias="id")
    plant_id: int
    model: str
    firmware: str | None
    interval_s: int
    measuring_point: MeasuringPoint | None
    mqtt_username: str
    status: DeviceStatus
    status_detail: str | None
    last_seen: datetime | None
    battery_level: float | None
    signal_strength: float | None
    revoked: bool
    revoked_at: datetime | None
    created_at: datetime


class MqttTopics(BaseModel):
    measurements: str
    status: str
    acks: str
    commands: str


class MqttCredentials(BaseModel):
    """Shown once: the password is not stored by the platform and cannot be read again."""

    host: str
    port: int
    # MQTT over TLS (the broker's 8883 listener; the plain one is the bridge's).
    tls: bool
    # The CA to trust for the broker's certificate (PEM), when it is not a public one.
    ca_certificate: str | None
    username: str
    password: str
    topics: MqttTopics


class ProvisionedDevice(BaseModel):
    device: DeviceOut
    credentials: MqttCredentials


class CommandCreate(BaseModel):
    model_config = _Input

    command: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value)) > 4096:
            raise ValueError("params larger than 4 KiB")
        return value


class CommandOut(BaseModel):
    command_id: uuid.UUID
    device_id: str
    command: str
    params: dict[str, Any]
    status: CommandStatus
    sent_at: datetime
    acked_at: datetime | None
    result_detail: str | None
