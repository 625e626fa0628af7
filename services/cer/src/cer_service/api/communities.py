from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, PageMeta, ok
from cerc_shared.events.cer import BodyType, DocumentKind, MarketZone, MemberType, Role
from fastapi import APIRouter, File, Query, Response, UploadFile, status

from cer_service import service
from cer_service.api.deps import Cer, HotReads, Id, Page, PerPage
from cer_service.schemas import (
    AuditOut,
    CommunityCreate,
    CommunityListItem,
    CommunityOut,
    CommunityUpdate,
    ErasureOut,
    MemberAdd,
    MemberOut,
    MemberUpdate,
    PersonalExport,
    SharesIn,
    SharesOut,
)

router = APIRouter(prefix="/api/cer", tags=["communities"])

CommunitySort = Literal["id", "-id", "name", "-name", "code", "-code", "created_at", "-created_at"]
MemberSort = Literal[
    "id", "-id", "valid_from", "-valid_from", "username", "-username", "role", "-role"
]
AuditEntity = Literal["community", "membership", "plant", "distribution_shares", "invitation"]


# The caller's own data first: "me" must not be read as a community id.
@router.get("/me/export/")
async def export_my_data(
    session: DbSession, cer: Cer, principal: CurrentPrincipal
) -> Envelope[PersonalExport]:
    data = await service.export_personal_data(session, cer, principal)
    return ok(PersonalExport.model_validate(data))


@router.post("/me/erasure/")
async def erase_my_data(session: DbSession, principal: CurrentPrincipal) -> Envelope[ErasureOut]:
    ended, erased = await service.erase_personal_data(session, principal)
    return ok(
        ErasureOut(user_id=principal.user_id, memberships_ended=ended, memberships_erased=erased)
    )


@router.get("/")
async def list_communities(
    session: DbSession,
    principal: CurrentPrincipal,
    page: Page = 1,
    per_page: PerPage = 20,
    market_zone: MarketZone | None = None,
    is_active: bool | None = None,
    sort: CommunitySort = "id",
) -> Envelope[list[CommunityListItem]]:
    items, total = await service.list_communities(
        session,
        principal,
        page=page,
        per_page=per_page,
        market_zone=market_zone,
        is_active=is_active,
        sort=sort,
    )
    return ok(items, PageMeta(page=page, per_page=per_page, total=total))


@router.post("/", status_code=status.HTTP_201_CREATED)
async def create_community(
    body: CommunityCreate, session: DbSession, principal: CurrentPrincipal
) -> Envelope[CommunityOut]:
    community = await service.create_community(session, principal, body)
    return ok(await service.community_summary(session, principal, community.id))


@router.get("/{cer_id}/", response_model=Envelope[CommunityOut])
async def get_community(
    cer_id: Id, session: DbSession, principal: CurrentPrincipal, reads: HotReads
) -> Response:
    body = await service.community_summary_json(session, principal, cer_id, reads)
    return Response(body, media_type="application/json")


@router.put("/{cer_id}/")
async def update_community(
    cer_id: Id, body: CommunityUpdate, session: DbSession, principal: CurrentPrincipal
) -> Envelope[CommunityOut]:
    return ok(await service.update_community(session, principal, cer_id, body))


@router.delete("/{cer_id}/")
async def deactivate_community(
    cer_id: Id, session: DbSession, principal: CurrentPrincipal
) -> Envelope[CommunityOut]:
    """Deactivate (platform administrators): a community's history is never deleted."""
    return ok(await service.deactivate_community(session, principal, cer_id))


@router.get("/{cer_id}/shares/")
async def list_shares(
    cer_id: Id, session: DbSession, principal: CurrentPrincipal
) -> Envelope[list[SharesOut]]:
    history = await service.shares_history(session, principal, cer_id)
    return ok([SharesOut.model_validate(s) for s in history])


@router.post("/{cer_id}/shares/", status_code=status.HTTP_201_CREATED)
async def add_shares(
    cer_id: Id, body: SharesIn, session: DbSession, principal: CurrentPrincipal
) -> Envelope[list[SharesOut]]:
    history = await service.add_shares(session, principal, cer_id, body)
    return ok([SharesOut.model_validate(s) for s in history])


@router.put("/{cer_id}/documents/{kind}/")
async def upload_document(
    cer_id: Id,
    kind: DocumentKind,
    file: Annotated[UploadFile, File(description="PDF for statute/regulation; PNG or JPEG logo")],
    session: DbSession,
    cer: Cer,
    principal: CurrentPrincipal,
) -> Envelope[CommunityOut]:
    # Read one byte past the limit: enough to refuse, never the whole of a huge upload.
    data = await file.read(service.document_limit(cer, kind) + 1)
    summary = await service.upload_document(
        session, cer, principal, cer_id, kind, file.content_type, data
    )
    return ok(summary)


@router.get(
    "/{cer_id}/documents/{kind}/",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "image/png": {}, "image/jpeg": {}}}},
)
async def download_document(
    cer_id: Id, kind: DocumentKind, session: DbSession, cer: Cer, principal: CurrentPrincipal
) -> Response:
    data, media_type = await service.download_document(session, cer, principal, cer_id, kind)
    extension = media_type.rsplit("/", 1)[-1]
    # An upload is saved, never rendered in the API's origin: a PDF or image
    # with script in it runs nowhere, and the browser keeps the stored type.
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{kind}.{extension}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/{cer_id}/members/")
async def list_members(
    cer_id: Id,
    session: DbSession,
    cer: Cer,
    principal: CurrentPrincipal,
    page: Page = 1,
    per_page: PerPage = 20,
    role: Role | None = None,
    member_type: MemberType | None = None,
    body_type: BodyType | None = None,
    is_active: bool | None = None,
    sort: MemberSort = "id",
) -> Envelope[list[MemberOut]]:
    items, total = await service.list_members(
        session,
        cer,
        principal,
        cer_id,
        page=page,
        per_page=per_page,
        role=role,
        member_type=member_type,
        body_type=body_type,
        is_active=is_active,
        sort=sort,
    )
    return ok(items, PageMeta(page=page, per_page=per_page, total=total))


@router.post("/{cer_id}/members/", status_code=status.HTTP_201_CREATED)
async def add_member(
    cer_id: Id, body: MemberAdd, session: DbSession, cer: Cer, principal: CurrentPrincipal
) -> Envelope[MemberOut]:
    """Add a user directly: platform administrators only (seeding, support).
    A community's managers invite instead: POST /api/cer/{cer_id}/invitations/."""
    return ok(await service.add_member(session, cer, principal, cer_id, body))


@router.get("/{cer_id}/members/{user_id}/")
async def get_member(
    cer_id: Id, user_id: Id, session: DbSession, cer: Cer, principal: CurrentPrincipal
) -> Envelope[MemberOut]:
    return ok(await service.get_member(session, cer, principal, cer_id, user_id))


@router.put("/{cer_id}/members/{user_id}/")
async def update_member(
    cer_id: Id,
    user_id: Id,
    body: MemberUpdate,
    session: DbSession,
    cer: Cer,
    principal: CurrentPrincipal,
) -> Envelope[MemberOut]:
    return ok(await service.update_member(session, cer, principal, cer_id, user_id, body))


@router.delete("/{cer_id}/members/{user_id}/")
async def remove_member(
    cer_id: Id,
    user_id: Id,
    session: DbSession,
    cer: Cer,
    principal: CurrentPrincipal,
    left_on: date | None = None,
) -> Envelope[MemberOut]:
    """End the membership period on ``left_on`` (default today); history is kept."""
    return ok(await service.remove_member(session, cer, principal, cer_id, user_id, left_on))


@router.get("/{cer_id}/audit/")
async def audit_trail(
    cer_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Page = 1,
    per_page: PerPage = 50,
    entity_type: AuditEntity | None = None,
    action: Annotated[str | None, Query(max_length=60)] = None,
) -> Envelope[list[AuditOut]]:
    entries, total = await service.audit_trail(
        session,
        principal,
        cer_id,
        page=page,
        per_page=per_page,
        entity_type=entity_type,
        action=action,
    )
    return ok(
        [AuditOut.model_validate(e) for e in entries],
        PageMeta(page=page, per_page=per_page, total=total),
    )
