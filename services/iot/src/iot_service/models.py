"""Tables of the iot schema: the device registry (with the bridge's counter
state), command tracking, and the read models of plants and memberships kept
from the CER service's events."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from cerc_shared.consumer import define_processed_events
from cerc_shared.outbox import define_outbox
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEVICE_STATUSES = ("ONLINE", "OFFLINE", "ERROR")
ACK_RESULTS = ("OK", "ERROR")
ROLES = ("ADMIN", "MEMBER", "VIEWER")


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Plant(Base):
    """Read model of ``plant.v1``: enough to place a device and authorise its managers."""

    __tablename__ = "plants"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    pod: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    community_id: Mapped[int] = mapped_column(BigInteger, index=True)
    owner_user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    def active_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


class Membership(Base):
    """Read model of ``membership.v1``: who is what in which community, and when."""

    __tablename__ = "memberships"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    community_id: Mapped[int] = mapped_column(BigInteger, index=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    role: Mapped[str] = mapped_column(String(20))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


class Device(Base):
    __tablename__ = "devices"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    # Room on each page for the bridge's updates to stay there (migrations 0002, 0003).
    __table_args__ = (
        CheckConstraint(f"status IN {DEVICE_STATUSES!r}", name="status"),
        CheckConstraint(
            "measuring_point IN ('grid_connection', 'generator', 'load')", name="measuring_point"
        ),
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    plant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("plants.id"), index=True)
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
processed_events = define_processed_events(Base.metadata)
