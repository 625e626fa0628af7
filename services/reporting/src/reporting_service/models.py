"""The reporting service's tables (schema ``reporting``): the registry read
model (who administers or belongs to which community, by date) and the report
jobs with where their file is stored."""

from __future__ import annotations

from datetime import datetime

from cerc_shared.consumer import define_processed_events
from cerc_shared.db import service_metadata
from cerc_shared.readmodels import RegistryReadModel
from sqlalchemy import BigInteger, DateTime, Index, Integer, String, func, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = service_metadata()


registry = RegistryReadModel(Base.metadata)
processed_events = define_processed_events(Base.metadata)


class ReportJob(Base):
    """One requested report. QUEUED -> RUNNING -> DONE (a stored file) or FAILED."""

    __tablename__ = "report_jobs"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # MONTHLY_COMMUNITY, MEMBER_STATEMENT, ANNUAL
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    # YYYY-MM (monthly, a month's statement) or YYYY (annual, a year's statement)
    period: Mapped[str] = mapped_column(String(7), nullable=False)
    format: Mapped[str] = mapped_column(String(10), nullable=False)
    language: Mapped[str] = mapped_column(String(5), nullable=False)
    # The member a statement is about; NULL for the community's reports.
    member_user_id: Mapped[int | None] = mapped_column(BigInteger)
    requested_by: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(String(1000))
    storage_key: Mapped[str | None] = mapped_column(String(300))
    filename: Mapped[str | None] = mapped_column(String(200))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_report_jobs_community_id", "community_id", "id"),
        Index("ix_report_jobs_member_user_id", "member_user_id", "id"),
        Index("ix_report_jobs_queued", "id", postgresql_where=text("status = 'QUEUED'")),
    )


__all__ = ["Base", "ReportJob", "processed_events", "registry"]
