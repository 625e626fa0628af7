"""``/api/energy/imports/``: the distributor's meter files, loaded by a
community's manager; the history of what was loaded."""

from __future__ import annotations

from typing import Annotated

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import ApiError, Envelope, NotFound, PageMeta, ok
from cerc_shared.ids import FormId, PathId, QueryId
from fastapi import APIRouter, File, Form, Response, UploadFile, status

from energy_service.api.deps import Page, PerPage, Store
from energy_service.imports import service
from energy_service.imports.formats import DIRECTIONS, Direction, normalise_pod
from energy_service.imports.repository import ImportRepository
from energy_service.imports.schemas import DirectionIn, ImportOut, import_out
from energy_service.service import require_community_manager

router = APIRouter(prefix="/api/energy/imports", tags=["imports"])

# A month of quarter hours for a thousand PODs, zipped, is well under this.
MAX_UPLOAD_BYTES = 200 * 1024 * 1024


@router.post("/", status_code=status.HTTP_201_CREATED)
async def upload(
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
) -> Envelope[ImportOut]:
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
