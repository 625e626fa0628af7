"""The tables of the precomputed hourly sums (migration 0007).

``community_hours``: per community, primary substation ('' when not known) and
UTC hour, the sums over the points active in that hour of the settled
quantities (one source per plant-hour, official > manual > iot), the engine's
whole-Wh fed-in and withdrawn (each plant-hour rounded, then summed: what
``cacer.sum_by_group`` gives), coverage counts and the exchange kinds seen
(bit mask, ``EXCHANGE_BITS``). Rows with nothing active and nothing measured
are not kept.

``community_months``: which registry stays each community month was computed
with (a digest). A month whose digest differs from the registry's now (a plant
joined or left, a period changed) is not read; the worker computes it again.

``hourly_dirty``: plant-hours written to the time-series store since their
community hours were computed; an aggregate touching one is computed directly.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    func,
    text,
)

from energy_service.models import Base

NEXT_ROWS_VERSION = "nextval('community_rows_version')"  # the sequence of migration 0008

EXCHANGE_BITS = {"measured": 1, "derived": 2, "mixed": 4, "none": 8}

community_hours = Table(
    "community_hours",
    Base.metadata,
    Column("community_id", BigInteger, primary_key=True, autoincrement=False),
    Column("hour", DateTime(timezone=True), primary_key=True),
    Column("primary_substation", String(50), primary_key=True),
    Column("produced_kwh", Float, nullable=False),
    Column("consumed_kwh", Float, nullable=False),
    Column("fed_in_kwh", Float, nullable=False),
    Column("withdrawn_kwh", Float, nullable=False),
    Column("self_consumption_kwh", Float, nullable=False),
    Column("fed_in_wh", BigInteger, nullable=False),
    Column("withdrawn_wh", BigInteger, nullable=False),
    Column("official", Integer, nullable=False),
    Column("manual", Integer, nullable=False),
    Column("iot", Integer, nullable=False),
    Column("missing", Integer, nullable=False),
    Column("exchange", SmallInteger, nullable=False),
)

community_months = Table(
    "community_months",
    Base.metadata,
    Column("community_id", BigInteger, primary_key=True, autoincrement=False),
    Column("month", Date, primary_key=True),
    Column("stays_sha256", String(64), nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Drawn from a sequence each time the month's rows change (a whole month or some of its
    # hours): never the same twice, so a kept answer compares it (hourly.reads).
    Column("rows_version", BigInteger, nullable=False, server_default=text(NEXT_ROWS_VERSION)),
)

hourly_dirty = Table(
    "hourly_dirty",
    Base.metadata,
    Column("plant_id", BigInteger, primary_key=True, autoincrement=False),
    Column("hour", DateTime(timezone=True), primary_key=True),
    Column(
        "marked_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=func.clock_timestamp(),
    ),
)
Index("ix_hourly_dirty_marked_at", hourly_dirty.c.marked_at)  # the worker takes the oldest

NEXT_PLANT_MARKS_VERSION = "nextval('plant_marks_version')"  # the sequence of migration 0009

# Per plant, drawn again each time the worker drops marks of the plant: with the plant's
# marks (how many, the latest) a stamp that never comes back once left, so a kept answer of
# the plant's readings compares it (api/shortcut.py, hourly.reads.PlantAnswers).
plant_marks_dropped = Table(
    "plant_marks_dropped",
    Base.metadata,
    Column("plant_id", BigInteger, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False, server_default=text(NEXT_PLANT_MARKS_VERSION)),
)
