"""``/api/energy/imports/``: the distributor's meter files, loaded by a
community's manager; the history of what was loaded."""

from __future__ import annotations

from typing import Annotated

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import ApiError, Envelope, NotFound, PageMeta, ok
from cerc_shared.ids import FormId, PathId, QueryId
from fastapi import APIRouter, File, Form, Request, Response, UploadFile, status

from energy_service.api.deps import Page, PerPage, Store
from energy_service.imports import service
from energy_service.imports.formats import DIRECTIONS, Direction, normalise_pod
from energy_service.imports.models import MeterImportJob
from energy_service.imports.repository import ImportJobRepository, ImportRepository
from energy_service.imports.schemas import DirectionIn, ImportJobOut, ImportOut, import_out, job_out
from energy_service.service import require_community_manager

router = APIRouter(prefix="/api/energy/imports", tags=["imports"])

# A month of quarter hours for a thousand PODs, zipped, is well under this.
MAX_UPLOAD_BYTES = 200 * 1024 * 1024


@router.post(
    "/",
    status_code=status.HTTP_201_CREATED,
    responses={202: {"model": Envelope[ImportJobOut], "description": "loading in background"}},
)
async def upload(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    store: Store,
    response: Response,
    file: Annotated[
        UploadFile, File(description="a quarter-hour CSV, a FlussoMisure XML or a ZIP")
    ],
    community_id: FormId,
    pod: Annotated[
        str | None, Form(description="the POD, when the file name does not carry it")
    ] = None,
    direction: Annotated[
        DirectionIn | None, Form(description="immessa (fed-in) or prelevata (withdrawn)")
    ] = None,
    background: Annotated[
        bool | None,
        Form(
            description="load as a job (202, progress at jobs/{id}/); "
            "default: only files larger than the service's background threshold"
        ),
    ] = None,
) -> Envelope[ImportOut] | Envelope[ImportJobOut]:
    await require_community_manager(session, principal, community_id)
    normalised = None
    if pod:
        normalised = normalise_pod(pod)
        if normalised is None:
            raise ApiError(
                422, "validation_error", "not a POD", field="pod",
                expected="IT + 3 digits + E + 8 digits (+ a letter)",
            )  # fmt: skip
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(413, "file_too_large", "the file is too large", field="file",
                       expected=f"at most {MAX_UPLOAD_BYTES} bytes")  # fmt: skip
    way: Direction | None = None
    if direction is not None:
        way = DIRECTIONS.get(direction) or direction  # type: ignore[assignment]
    if background is None:
        background = len(data) > request.app.state.import_background_bytes
    if background:
        job = await ImportJobRepository(session).add(
            MeterImportJob(
                community_id=community_id, uploaded_by=principal.user_id,
                uploader_type=principal.user_type, file_name=(file.filename or "upload")[:255],
                pod=normalised, direction=way, content=data, status="QUEUED", attempts=0,
                values_written=0, errors=[],
            )
        )  # fmt: skip
        await session.commit()  # the worker must see the job it is woken for
        await session.refresh(job)
        request.app.state.import_jobs.wake()
        response.status_code = status.HTTP_202_ACCEPTED
        response.headers["Location"] = f"/api/energy/imports/jobs/{job.id}/"
        return ok(job_out(job))
    result = await service.import_file(
        session,
        store,
        principal,
        community_id=community_id,
        name=file.filename or "upload.csv",
        data=data,
        pod=normalised,
        direction=way,
    )
    if result.unchanged:
        response.status_code = status.HTTP_200_OK
    return ok(import_out(result.record, result.curves, unchanged=result.unchanged))


@router.get("/")
async def history(
    session: DbSession,
    principal: CurrentPrincipal,
    community_id: QueryId,
    page: Page = 1,
    per_page: PerPage = 50,
) -> Envelope[list[ImportOut]]:
    await require_community_manager(session, principal, community_id)
    items, total = await ImportRepository(session).history(
        community_id, offset=(page - 1) * per_page, limit=per_page
    )
    return ok(
        [import_out(i, None) for i in items], PageMeta(page=page, per_page=per_page, total=total)
    )


@router.get("/{import_id}/")
async def detail(
    import_id: PathId, session: DbSession, principal: CurrentPrincipal
) -> Envelope[ImportOut]:
    repo = ImportRepository(session)
    record = await repo.get(import_id)
    if record is None:
        raise NotFound("import")
    try:
        await require_community_manager(session, principal, record.community_id)
    except ApiError:
        raise NotFound("import") from None
    return ok(import_out(record, await repo.curves_of(record.id)))


@router.get("/jobs/{job_id}/")
async def job_status(
    job_id: PathId, session: DbSession, principal: CurrentPrincipal
) -> Envelope[ImportJobOut]:
    """A background upload's state, progress and row errors; the community's manager only."""
    job = await ImportJobRepository(session).get(job_id)
    if job is None:
        raise NotFound("import job")
    try:
        await require_community_manager(session, principal, job.community_id)
    except ApiError:
        raise NotFound("import job") from None
    return ok(job_out(job))
