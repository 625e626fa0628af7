"""Invitations: managers invite an e-mail address, the person accepts signed in."""

from __future__ import annotations

from typing import Annotated

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, PageMeta, ok
from fastapi import APIRouter, Path, status

from cer_service import service
from cer_service.api.deps import Cer, Id, Page, PerPage
from cer_service.schemas import (
    InvitationAccept,
    InvitationForMe,
    InvitationIn,
    InvitationOut,
    InvitationSent,
    MemberOut,
)
from cer_service.service.members import member_out

router = APIRouter(prefix="/api/cer", tags=["invitations"])

# An invitation's id (digits) or the token of its link (URL-safe base64).
Reference = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


# The caller's own invitations first: "invitations" must not be read as a community id.
@router.get("/invitations/mine/")
async def my_invitations(
    session: DbSession, principal: CurrentPrincipal
) -> Envelope[list[InvitationForMe]]:
    return ok(await service.my_invitations(session, principal))


@router.post("/invitations/{reference}/accept/", status_code=status.HTTP_201_CREATED)
async def accept_invitation(
    reference: Reference,
    session: DbSession,
    cer: Cer,
    principal: CurrentPrincipal,
    body: InvitationAccept | None = None,
) -> Envelope[MemberOut]:
    """Join the community: only the user signed in with the invited address."""
    _, membership = await service.accept_invitation(
        session, cer, principal, reference, body or InvitationAccept()
    )
    user = await service.known_user(session, principal.user_id)
    return ok(member_out(cer, membership, user, clear=True, day=service.today()))


@router.post("/{cer_id}/invitations/", status_code=status.HTTP_202_ACCEPTED)
async def invite(
    cer_id: Id, body: InvitationIn, session: DbSession, cer: Cer, principal: CurrentPrincipal
) -> Envelope[InvitationSent]:
    """Invite an e-mail address; the answer does not say whether it has an account."""
    return ok(await service.invite(session, cer, principal, cer_id, body))


@router.get("/{cer_id}/invitations/")
async def list_invitations(
    cer_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Page = 1,
    per_page: PerPage = 20,
) -> Envelope[list[InvitationOut]]:
    items, total = await service.list_invitations(
        session, principal, cer_id, page=page, per_page=per_page
    )
    return ok(items, PageMeta(page=page, per_page=per_page, total=total))


@router.delete("/{cer_id}/invitations/{invitation_id}/")
async def revoke_invitation(
    cer_id: Id, invitation_id: Id, session: DbSession, principal: CurrentPrincipal
) -> Envelope[InvitationOut]:
    return ok(await service.revoke_invitation(session, principal, cer_id, invitation_id))
