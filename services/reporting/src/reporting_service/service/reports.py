"""Who may ask for and read which report, decided from the registry read model
on the Italian today; requests become QUEUED jobs.

* the community's reports (monthly, annual): its ADMINs and platform admins;
  a member of the community gets 403, anyone else 404;
* a member statement: the member it is about, and the community's ADMINs;
  anyone else 404 (a statement is personal: another member does not learn it exists).
"""

from __future__ import annotations

from cerc_shared.auth import Principal
from cerc_shared.clock import italian_today
from cerc_shared.envelope import ApiError, NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from reporting_service import repository
from reporting_service.models import ReportJob, registry

COMMUNITY_KINDS = ("MONTHLY_COMMUNITY", "ANNUAL")
KINDS = (*COMMUNITY_KINDS, "MEMBER_STATEMENT")


async def _role(session: AsyncSession, principal: Principal, community_id: int) -> str | None:
    """``admin``, ``member`` or None (a stranger) on the Italian today."""
    if principal.is_platform_admin:
        if await registry.reader(session).community(community_id) is None:
            return None
        return "admin"
    reader = registry.reader(session)
    today = italian_today()
    if await reader.is_community_admin(principal.user_id, community_id, today):
        return "admin"
    memberships = await reader.memberships_of_user(principal.user_id, on=today)
    if any(m.community_id == community_id for m in memberships):
        return "member"
    return None


async def request_report(
    session: AsyncSession,
    principal: Principal,
    *,
    kind: str,
    community_id: int,
    period: str,
    fmt: str,
    language: str,
    member_user_id: int | None,
) -> ReportJob:
    role = await _role(session, principal, community_id)
    if role is None:
        raise NotFound("community")
    if kind in COMMUNITY_KINDS:
        if role != "admin":
            raise ApiError(403, "forbidden", "community administrators only")
        if kind == "MONTHLY_COMMUNITY" and len(period) != 7:
            raise ApiError(
                422,
                "validation_error",
                "a monthly report is of one month",
                field="period",
                expected="YYYY-MM",
            )
        if kind == "ANNUAL" and len(period) != 4:
            raise ApiError(
                422,
                "validation_error",
                "an annual report is of one year",
                field="period",
                expected="YYYY",
            )
        member_user_id = None
    else:
        member_user_id = member_user_id or principal.user_id
        if member_user_id != principal.user_id and role != "admin":
            raise NotFound("member")
        reader = registry.reader(session)
        ever = await reader.memberships_of_community(community_id)
        if not any(m.user_id == member_user_id for m in ever):
            raise NotFound("member")
    job = ReportJob(
        community_id=community_id,
        kind=kind,
        period=period,
        format=fmt,
        language=language,
        member_user_id=member_user_id,
        requested_by=principal.user_id,
        status="QUEUED",
        progress=0,
    )
    session.add(job)
    await session.flush()
    return job


async def visible_job(session: AsyncSession, principal: Principal, job_id: int) -> ReportJob:
    job = await repository.job(session, job_id)
    if job is None:
        raise NotFound("report")
    role = await _role(session, principal, job.community_id)
    if role == "admin":
        return job
    if role == "member" and job.member_user_id == principal.user_id:
        return job
    raise NotFound("report")


async def list_jobs(
    session: AsyncSession, principal: Principal, community_id: int, page: int, per_page: int
) -> tuple[list[ReportJob], int]:
    """An admin: every report of the community; a member: their own statements."""
    role = await _role(session, principal, community_id)
    if role is None:
        raise NotFound("community")
    member = None if role == "admin" else principal.user_id
    return await repository.jobs_page(session, community_id, member, page, per_page)
