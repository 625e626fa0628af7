"""``/api/economic/gse/...``: a community ADMIN sets the community's GSE
credentials, asks for a sync (202: a job the GSE worker runs, never inside the
request), follows it, sees the circuit's state, and uploads the GSE's
statements as files."""

from __future__ import annotations

from typing import Annotated

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import ApiError, Envelope, NotFound, ok
from cerc_shared.ids import FormId, PathId, QueryId
from fastapi import APIRouter, BackgroundTasks, File, Request, UploadFile, status

from economic_service import repository
from economic_service.models import GseCredential, GseSyncJob
from economic_service.schemas import (
    GseCredentialsIn,
    GseCredentialsOut,
    GseImportOut,
    GseJobOut,
    GseStatusOut,
    GseSyncIn,
)
from economic_service.service.access import require_admin
from economic_service.service.gse import imports, sync

router = APIRouter(prefix="/api/economic/gse", tags=["gse"])

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _credentials(c: GseCredential) -> GseCredentialsOut:
    return GseCredentialsOut(
        community_id=c.community_id,
        client_id=c.client_id,
        configuration_id=c.configuration_id,
        updated_by=c.updated_by,
        updated_at=c.updated_at,
    )


def _job(j: GseSyncJob) -> GseJobOut:
    return GseJobOut.model_validate(j, from_attributes=True)


@router.put("/credentials/")
async def set_credentials(
    body: GseCredentialsIn, request: Request, session: DbSession, principal: CurrentPrincipal
) -> Envelope[GseCredentialsOut]:
    await sync.save_credentials(
        session,
        principal,
        request.app.state.field_cipher,
        body.community_id,
        body.client_id,
        body.client_secret,
    )
    await session.flush()
    saved = await repository.gse_credential(session, body.community_id)
    assert saved is not None
    await session.refresh(saved)
    return ok(_credentials(saved))


@router.get("/status/")
async def gse_status(
    request: Request, session: DbSession, principal: CurrentPrincipal, community_id: QueryId
) -> Envelope[GseStatusOut]:
    await require_admin(session, principal, community_id)
    credential = await repository.gse_credential(session, community_id)
    breaker = request.app.state.gse_worker.breakers.get(community_id)
    return ok(
        GseStatusOut(
            community_id=community_id,
            credentials=_credentials(credential) if credential else None,
            circuit=breaker.state if breaker else "CLOSED",
            circuit_failures=breaker.failures if breaker else 0,
            jobs=[_job(j) for j in await repository.recent_gse_jobs(session, community_id)],
        )
    )


@router.post("/sync/", status_code=status.HTTP_202_ACCEPTED)
async def request_sync(
    body: GseSyncIn,
    request: Request,
    background: BackgroundTasks,
    session: DbSession,
    principal: CurrentPrincipal,
) -> Envelope[GseJobOut]:
    job = await sync.request_sync(session, principal, body.community_id, body.months)
    await session.refresh(job)
    # After the response, i.e. after the commit: the worker then finds the job.
    background.add_task(request.app.state.gse_worker.poke)
    return ok(_job(job))


@router.get("/sync/{job_id}/")
async def get_job(
    job_id: PathId, session: DbSession, principal: CurrentPrincipal
) -> Envelope[GseJobOut]:
    job = await repository.gse_job(session, job_id)
    if job is None:
        raise NotFound("sync job")
    try:
        await require_admin(session, principal, job.community_id)
    except ApiError as exc:
        if exc.status_code == 403:
            raise
        raise NotFound("sync job") from exc
    return ok(_job(job))


@router.post("/imports/", status_code=status.HTTP_201_CREATED)
async def import_statement(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, File(description="the GSE's figures or payments, CSV or XLSX")],
    community_id: FormId,
) -> Envelope[GseImportOut]:
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(
            413,
            "file_too_large",
            "the file is too large",
            field="file",
            expected=f"at most {MAX_UPLOAD_BYTES} bytes",
        )
    result = await imports.import_statement(
        session,
        principal,
        community_id=community_id,
        name=file.filename or "upload.csv",
        data=data,
        tolerance_cents=request.app.state.settings.reconciliation_tolerance_cents,
    )
    return ok(GseImportOut(**result))
