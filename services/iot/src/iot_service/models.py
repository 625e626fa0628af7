"""Tables of the iot schema: the device registry (with the bridge's counter
state), command tracking, and the read models of plants and memberships kept
from the CER service's events."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, get_args

from cerc_shared.audit import AuditTrail, define_audit_log
from cerc_shared.consumer import define_processed_events
from cerc_shared.db import service_metadata
from cerc_shared.events.iot import DeviceStatus, MeasuringPoint
from cerc_shared.outbox import define_outbox
from cerc_shared.readmodels import RegistryReadModel
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEVICE_STATUSES: tuple[str, ...] = get_args(DeviceStatus)
MEASURING_POINTS: tuple[str, ...] = get_args(MeasuringPoint)
ACK_RESULTS = ("OK", "ERROR")


class Base(DeclarativeBase):
    metadata = service_metadata()


# The plants and memberships this service authorises with (plant.v1, membership.v1).
registry = RegistryReadModel(Base.metadata)


class Device(Base):
    __tablename__ = "devices"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    # Room on each page for the bridge's updates to stay there (migrations 0002, 0003).
    __table_args__ = (
        CheckConstraint(f"status IN {DEVICE_STATUSES!r}", name="status"),
        CheckConstraint(f"measuring_point IN {MEASURING_POINTS!r}", name="measuring_point"),
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    plant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("plants.plant_id"), index=True)
    model: Mapped[str] = mapped_column(String(100))
    firmware: Mapped[str | None] = mapped_column(String(100))
    interval_s: Mapped[int] = mapped_column(Integer)
    # Where the meter measures: at the grid connection (its export/import are
    # the POD's fed-in/withdrawn energy), the generator or a load; None: not
    # declared (the specification's message, production and consumption).
    measuring_point: Mapped[str | None] = mapped_column(String(20))
    # The MQTT username of its dynsec client (its password is never stored here).
    mqtt_username: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="OFFLINE")
    status_detail: Mapped[str | None] = mapped_column(String(500))
    last_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    battery_level: Mapped[float | None] = mapped_column(Float)
    signal_strength: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The first day of the plant's stay (in a community) the device was
    # registered in: who reads and manages it follows that stay (migration 0006).
    plant_stay_from: Mapped[date | None] = mapped_column(Date)
    # The bridge's state of the device's cumulative registers (counters.py),
    # ``{"<format>:<register>": ["<last timestamp>", <last kWh>]}``: written by
    # the bridge alone (repository.py), loaded only when asked for.
    counters: Mapped[dict[str, Any] | None] = mapped_column(JSONB, deferred=True)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class Command(Base):
    __tablename__ = "commands"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    device_id: Mapped[str] = mapped_column(String(64), ForeignKey("devices.id"), index=True)
    command: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CommandAck(Base):
    """A device's acknowledgement. No foreign key on purpose: the bridge may see
    the ack before the request that sent the command has committed."""

    __tablename__ = "command_acks"
    __table_args__ = (CheckConstraint(f"result IN {ACK_RESULTS!r}", name="result"),)

    command_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(10))
    detail: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


outbox = define_outbox(Base.metadata)
# Device provisioning, rotation, revocation and commands (cerc_shared.audit).
audit = AuditTrail(define_audit_log(Base.metadata))
processed_events = define_processed_events(Base.metadata)
