"""``/api/reports/``: request a report (202, a job), follow it, download its
file; the list is also served at the specification's ``/api/economic/reports/``."""

from __future__ import annotations

from typing import Annotated

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import ApiError, Envelope, PageMeta, ok
from cerc_shared.ids import PathId, QueryId
from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status

from reporting_service.models import ReportJob
from reporting_service.schemas import ReportIn, ReportOut
from reporting_service.service import reports

router = APIRouter(tags=["reports"])


def report_out(job: ReportJob) -> ReportOut:
    return ReportOut(
        id=job.id,
        kind=job.kind,
        community_id=job.community_id,
        period=job.period,
        format=job.format,
        language=job.language,
        member_user_id=job.member_user_id,
        requested_by=job.requested_by,
        status=job.status,
        progress=job.progress,
        error=job.error,
        filename=job.filename,
        content_type=job.content_type,
        size_bytes=job.size_bytes,
        sha256=job.sha256,
        download=f"/api/reports/{job.id}/file" if job.status == "DONE" else None,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


@router.post("/api/reports/", status_code=status.HTTP_202_ACCEPTED)
async def request_report(
    body: ReportIn,
    session: DbSession,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    background: BackgroundTasks,
) -> Envelope[ReportOut]:
    job = await reports.request_report(
        session,
        principal,
        kind=body.kind,
        community_id=body.community_id,
        period=body.period,
        fmt=body.format,
        language=body.language,
        member_user_id=body.member_user_id,
    )
    # After the response, i.e. after the commit: the worker then finds the job.
    background.add_task(request.app.state.report_jobs.poke)
    response.headers["Location"] = f"/api/reports/{job.id}/"
    await session.refresh(job)
    return ok(report_out(job))


async def _list(
    session: DbSession,
    principal: CurrentPrincipal,
    community_id: QueryId,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Envelope[list[ReportOut]]:
    jobs, total = await reports.list_jobs(session, principal, community_id, page, per_page)
    return ok([report_out(j) for j in jobs], PageMeta(page=page, per_page=per_page, total=total))


router.add_api_route("/api/reports/", _list, methods=["GET"], name="list_reports")
router.add_api_route(
    "/api/economic/reports/", _list, methods=["GET"], name="list_reports_economic_path"
)


@router.get("/api/reports/{report_id}/")
async def get_report(
    report_id: PathId, session: DbSession, principal: CurrentPrincipal
) -> Envelope[ReportOut]:
    return ok(report_out(await reports.visible_job(session, principal, report_id)))


@router.get(
    "/api/reports/{report_id}/file",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "text/csv": {}}}},
)
async def download_report(
    report_id: PathId, session: DbSession, principal: CurrentPrincipal, request: Request
) -> Response:
    job = await reports.visible_job(session, principal, report_id)
    if job.status != "DONE" or job.storage_key is None:
        raise ApiError(409, "not_ready", f"the report is {job.status}, not DONE yet")
    try:
        data = await request.app.state.report_store.get(job.storage_key)
    except FileNotFoundError as exc:
        raise ApiError(410, "gone", "the report's file is no longer stored") from exc
    return Response(
        content=data,
        media_type=job.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{job.filename}"',
            "Cache-Control": "private, no-store",
        },
    )
