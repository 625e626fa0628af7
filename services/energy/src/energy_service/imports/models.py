"""The import history of distributor meter files (PostgreSQL, energy schema).

The values themselves go to the time-series store as ``official`` points;
these rows say which file brought which POD-month, and keep every file, so a
corrected file supersedes an earlier one without erasing it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from energy_service.models import Base


class MeterImport(Base):
    """One accepted file (a ZIP counts as one). The same file again is not a new import."""

    __tablename__ = "meter_imports"
    __table_args__ = (UniqueConstraint("community_id", "content_sha256"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[int] = mapped_column(BigInteger)
    file_name: Mapped[str] = mapped_column(String(255))
    content_sha256: Mapped[str] = mapped_column(String(64))
    # Kept so the history can show or reprocess exactly what was loaded.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    values_total: Mapped[int] = mapped_column(Integer)
    values_written: Mapped[int] = mapped_column(Integer)
    # What was reported but not refused: days outside a plant's period.
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MeterImportCurve(Base):
    """One POD-month in one direction, as one import brought it."""

    __tablename__ = "meter_import_curves"
    __table_args__ = (
        Index("ix_meter_import_curves_plant_id", "plant_id", "direction", "month"),
        Index("ix_meter_import_curves_import_id", "import_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("meter_imports.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(String(500))
    pod: Mapped[str] = mapped_column(String(20))
    plant_id: Mapped[int] = mapped_column(BigInteger)
    direction: Mapped[str] = mapped_column(String(10))
    month: Mapped[date] = mapped_column(Date)
    values_count: Mapped[int] = mapped_column(Integer)
    total_kwh: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    # Of the quarter-hour values in time order: equal hashes, equal curves.
    values_sha256: Mapped[str] = mapped_column(String(64))
    estimated_days: Mapped[list[date]] = mapped_column(ARRAY(Date), default=list)
    first_interval_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_interval_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The import whose curve for the same plant, direction and month replaced
    # this one; for a curve that equalled the current one when loaded (and so
    # was not written), the import of that current curve.
    superseded_by: Mapped[int | None] = mapped_column(BigInteger)


class MeterImportJob(Base):
    """An upload loaded in the background (a large ZIP): its state, progress and row errors.

    QUEUED -> RUNNING -> DONE (``import_id`` says which import it became, possibly an earlier
    one for the same file), REJECTED (the file had errors, ``errors`` lists them, nothing
    written) or FAILED (the store or the database failed after ``attempts`` tries)."""

    __tablename__ = "meter_import_jobs"
    __table_args__ = (Index("ix_meter_import_jobs_status", "status", "lease_until"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[int] = mapped_column(BigInteger)
    # The uploader's user type: a platform administrator's job runs with their rights.
    uploader_type: Mapped[str] = mapped_column(String(20))
    file_name: Mapped[str] = mapped_column(String(255))
    pod: Mapped[str | None] = mapped_column(String(20))
    direction: Mapped[str | None] = mapped_column(String(10))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    status: Mapped[str] = mapped_column(String(10), default="QUEUED")
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    # A RUNNING job whose lease ran out (its worker died) is taken again.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    values_total: Mapped[int | None] = mapped_column(Integer)
    values_written: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    import_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
