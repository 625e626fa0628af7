from __future__ import annotations

from typing import Annotated, Literal

from cerc_shared.audit import AuditOut
from cerc_shared.auth import CurrentPrincipal, PlatformAdmin
from cerc_shared.db import DbSession, ReadConnections
from cerc_shared.envelope import Envelope, PageMeta, ok
from fastapi import APIRouter, Path, Query, Response

from user_service import service
from user_service.models import audit
from user_service.schemas import AdminUserPatch, PasswordChange, UserOut, UserPatch

router = APIRouter(prefix="/api/users", tags=["users"])

# A BIGINT: beyond it PostgreSQL would fail the query (500); refused at the door.
UserId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/audit/")
async def audit_trail(
    session: DbSession,
    _: PlatformAdmin,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 50,
    action: Annotated[str | None, Query(max_length=60)] = None,
    entity_type: Literal["user", "login", "api_client"] | None = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    correlation_id: Annotated[str | None, Query(max_length=128)] = None,
) -> Envelope[list[AuditOut]]:
    """Platform administrators: logins, user administration and API clients, newest first."""
    entries, total = await audit.page(
        session, page=page, per_page=per_page, action=action, entity_type=entity_type,
        entity_id=entity_id, correlation_id=correlation_id,
    )  # fmt: skip
    return ok(
        [AuditOut.model_validate(e) for e in entries],
        PageMeta(page=page, per_page=per_page, total=total),
    )


@router.get("/me/", response_model=Envelope[UserOut])
async def me(principal: CurrentPrincipal, reads: ReadConnections) -> Response:
    return Response(
        await service.profile_json(reads, principal.user_id), media_type="application/json"
    )


@router.patch("/me/")
async def update_me(
    body: UserPatch, session: DbSession, principal: CurrentPrincipal
) -> Envelope[UserOut]:
    user = await service.update_me(session, principal.user_id, body)
    return ok(UserOut.model_validate(user))


@router.post("/me/password/")
async def change_password(
    body: PasswordChange, session: DbSession, principal: CurrentPrincipal
) -> Envelope[None]:
    await service.change_password(session, principal, body)
    return ok(None)


@router.get("/")
async def list_users(
    session: DbSession,
    _: PlatformAdmin,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    q: Annotated[str | None, Query(max_length=100)] = None,
    user_type: Literal["PRIVATE", "BUSINESS", "ADMIN"] | None = None,
    is_active: bool | None = None,
) -> Envelope[list[UserOut]]:
    users, total = await service.list_users(
        session, page=page, per_page=per_page, search=q, user_type=user_type, is_active=is_active
    )
    return ok(
        [UserOut.model_validate(u) for u in users],
        PageMeta(page=page, per_page=per_page, total=total),
    )


@router.get("/{user_id}/")
async def get_user(user_id: UserId, session: DbSession, _: PlatformAdmin) -> Envelope[UserOut]:
    return ok(UserOut.model_validate(await service.get_user(session, user_id)))


@router.patch("/{user_id}/")
async def admin_update_user(
    user_id: UserId, body: AdminUserPatch, session: DbSession, admin: PlatformAdmin
) -> Envelope[UserOut]:
    return ok(UserOut.model_validate(await service.admin_update(session, admin, user_id, body)))
