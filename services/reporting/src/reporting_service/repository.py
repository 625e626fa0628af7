"""Queries of the reporting service's own tables."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reporting_service.models import ReportJob


async def job(session: AsyncSession, job_id: int) -> ReportJob | None:
    return await session.get(ReportJob, job_id)


async def claim_queued_job(session: AsyncSession) -> ReportJob | None:
    found: ReportJob | None = await session.scalar(
        select(ReportJob)
        .where(ReportJob.status == "QUEUED")
        .order_by(ReportJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return found


async def jobs_page(
    session: AsyncSession,
    community_id: int,
    member_user_id: int | None,
    page: int,
    per_page: int,
) -> tuple[list[ReportJob], int]:
    """A community's jobs, newest first; with ``member_user_id``, only the
    statements about that member."""
    query = select(ReportJob).where(ReportJob.community_id == community_id)
    if member_user_id is not None:
        query = query.where(ReportJob.member_user_id == member_user_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(ReportJob.id.desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows), total
