"""The energy service's own tables: the registry read model (plants, their
stays in communities, memberships, communities; fed from plant.v1,
membership.v1 and cer.v1), the consumer's processed events and the outbox.
Readings themselves live in the time-series store."""

from __future__ import annotations

from cerc_shared.consumer import define_processed_events
from cerc_shared.db import service_metadata
from cerc_shared.outbox import define_outbox
from cerc_shared.readmodels import RegistryReadModel
from sqlalchemy import BigInteger, Column, Date, DateTime, Index, String, Table, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = service_metadata()


# Plants and memberships (plant.v1, membership.v1, cer.v1): whose a plant is,
# which community it is in, who administers that community, and since when.
registry = RegistryReadModel(Base.metadata)

outbox = define_outbox(Base.metadata)
processed_events = define_processed_events(Base.metadata)

# Manual and official readings posted over the API, audited (migration 0004):
# who, when, under which request id, what was posted and what was stored at
# those instants before (``service.accept_readings``).
reading_writes = Table(
    "reading_writes",
    Base.metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("plant_id", BigInteger, nullable=False),
    Column("source", String(10), nullable=False),
    Column("written_by", BigInteger, nullable=False),
    Column("correlation_id", String(100)),
    Column("written_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("readings", JSONB, nullable=False),
    Column("replaced", JSONB, nullable=False),
    Index("ix_reading_writes_plant_id", "plant_id", "written_at"),
)

# Community months with a FINAL settlement (settlement.approved on
# settlement.v1, migration 0005): no manual or official reading goes into them.
settled_months = Table(
    "settled_months",
    Base.metadata,
    Column("community_id", BigInteger, primary_key=True, autoincrement=False),
    Column("month", Date, primary_key=True),
    Column("run_id", BigInteger, nullable=False),
)
