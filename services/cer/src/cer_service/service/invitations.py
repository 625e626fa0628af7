"""Invitations (issue 12, item 7): a manager invites an e-mail address, the
person signed in with that address accepts, and only then does the membership
begin. The manager never learns whether the address belongs to an account, nor
whose it is, until the person has joined."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from cerc_shared.auth import Principal
from cerc_shared.envelope import ApiError, NotFound
from cerc_shared.events.cer import InvitationCreated
from sqlalchemy.ext.asyncio import AsyncSession

from cer_service.models import Invitation, KnownUser, Membership
from cer_service.repository import (
    CommunityRepository,
    InvitationRepository,
    UserRepository,
)
from cer_service.schemas import (
    InvitationAccept,
    InvitationForMe,
    InvitationIn,
    InvitationOut,
    InvitationSent,
)
from cer_service.service.access import CerContext, access_to, require_active, require_manager
from cer_service.service.changes import Changes
from cer_service.service.members import MemberFacts, start_membership

ACCEPT_PATH = "/api/cer/invitations/{token}/accept/"
# Ids are at most 19 digits; tokens are 43 URL-safe characters, so a
# reference is one or the other, never both.
TOKEN_BYTES = 32


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def email_key(email: str) -> str:
    return email.strip().lower()


def _now() -> datetime:
    return datetime.now(UTC)


def status_of(invitation: Invitation, now: datetime) -> str:
    if invitation.status == "PENDING" and invitation.expires_at <= now:
        return "EXPIRED"
    return invitation.status


def invitation_out(invitation: Invitation, now: datetime) -> InvitationOut:
    return InvitationOut(
        invitation_id=invitation.id,
        community_id=invitation.community_id,
        email=invitation.email,
        role=invitation.role,
        member_type=invitation.member_type,
        body_type=invitation.body_type,
        joined_on=invitation.joined_on,
        status=status_of(invitation, now),
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
    )


async def invite(
    session: AsyncSession,
    ctx: CerContext,
    principal: Principal,
    community_id: int,
    data: InvitationIn,
) -> InvitationSent:
    acc = await access_to(session, principal, community_id, for_update=True)
    require_manager(acc)
    require_active(acc.community)
    # No lookup of the address among the users: the answer, the stored row and
    # the event are the same whether or not it belongs to an account.
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invitation = Invitation(
        community_id=community_id,
        email=data.email,
        email_key=email_key(data.email),
        token_hash=_hash(token),
        role=data.role,
        member_type=data.member_type,
        body_type=data.body_type,
        joined_on=data.joined_on,
        status="PENDING",
        invited_by=principal.user_id,
        expires_at=_now() + timedelta(days=ctx.settings.invitation_days),
    )
    await InvitationRepository(session).add(invitation)
    event = InvitationCreated(
        invitation_id=invitation.id,
        community_id=community_id,
        community_name=acc.community.name,
        email=data.email,
        role=data.role,
        expires_at=invitation.expires_at,
        accept_path=ACCEPT_PATH.format(token=token),
    )
    await Changes(session, principal).record(
        invitation, "invitation.sent", community_id=community_id, before=None, events=[event]
    )
    return InvitationSent(
        invitation_id=invitation.id, email=invitation.email, expires_at=invitation.expires_at
    )


async def list_invitations(
    session: AsyncSession, principal: Principal, community_id: int, *, page: int, per_page: int
) -> tuple[list[InvitationOut], int]:
    acc = await access_to(session, principal, community_id)
    require_manager(acc)
    rows, total = await InvitationRepository(session).page(
        community_id, page=page, per_page=per_page
    )
    now = _now()
    return [invitation_out(i, now) for i in rows], total


async def revoke(
    session: AsyncSession, principal: Principal, community_id: int, invitation_id: int
) -> InvitationOut:
    acc = await access_to(session, principal, community_id, for_update=True)
    require_manager(acc)
    invitation = await InvitationRepository(session).get_for_update(invitation_id)
    if invitation is None or invitation.community_id != community_id:
        raise NotFound("invitation")
    now = _now()
    if invitation.status != "PENDING":
        raise ApiError(
            409,
            f"invitation_{invitation.status.lower()}",
            f"this invitation was already {invitation.status.lower()}",
        )
    async with Changes(session, principal).change(
        invitation, "invitation.revoked", community_id=community_id
    ):
        invitation.status = "REVOKED"
        invitation.closed_at = now
    return invitation_out(invitation, now)


async def known_user(session: AsyncSession, user_id: int) -> KnownUser | None:
    return await UserRepository(session).get(user_id)


async def _signed_in_email(session: AsyncSession, principal: Principal) -> str:
    """The caller's address as the user service last published it; an account
    unknown here (or erased, or deactivated) has no invitations."""
    user = await UserRepository(session).get(principal.user_id)
    if user is None or user.erased or not user.is_active:
        raise NotFound("invitation")
    return email_key(user.email)


async def my_invitations(session: AsyncSession, principal: Principal) -> list[InvitationForMe]:
    user = await UserRepository(session).get(principal.user_id)
    if user is None or user.erased or not user.is_active:
        return []
    pending = await InvitationRepository(session).pending_for(email_key(user.email), _now())
    return [
        InvitationForMe(
            invitation_id=i.id,
            community_id=i.community_id,
            community_name=name,
            role=i.role,
            member_type=i.member_type,
            body_type=i.body_type,
            joined_on=i.joined_on,
            expires_at=i.expires_at,
        )
        for i, name in pending
    ]


async def _find(session: AsyncSession, reference: str) -> Invitation | None:
    invitations = InvitationRepository(session)
    if reference.isdigit() and len(reference) <= 18:
        return await invitations.get(int(reference))
    return await invitations.by_token(_hash(reference))


async def accept(
    session: AsyncSession,
    ctx: CerContext,
    principal: Principal,
    reference: str,
    data: InvitationAccept,
) -> tuple[Invitation, Membership]:
    """Join on an invitation addressed to the caller's e-mail (by id or by the
    link's token). Anyone else gets 404, as if it did not exist."""
    email = await _signed_in_email(session, principal)
    found = await _find(session, reference)
    if found is None or found.email_key != email:
        raise NotFound("invitation")
    community_id = found.community_id
    # The community's row first, as every registry write takes it, then the invitation again.
    community = await CommunityRepository(session).get_for_update(community_id)
    if community is None:
        raise NotFound("invitation")
    require_active(community)
    await InvitationRepository(session).lock(found)
    now = _now()
    state = status_of(found, now)
    if state != "PENDING":
        raise ApiError(
            409 if state != "EXPIRED" else 410,
            f"invitation_{state.lower()}",
            {
                "EXPIRED": "this invitation has expired: ask the community for a new one",
                "REVOKED": "this invitation was withdrawn by the community",
                "ACCEPTED": "this invitation has already been used",
            }[state],
        )
    membership = await start_membership(
        session,
        ctx,
        principal,
        community_id,
        principal.user_id,
        MemberFacts(
            role=found.role,
            member_type=found.member_type,
            body_type=found.body_type,
            tax_code=data.tax_code,
            vat_number=data.vat_number,
            iban=data.iban,
            joined_on=found.joined_on,
        ),
        field="invitation",
    )
    async with Changes(session, principal).change(
        found, "invitation.accepted", community_id=community_id
    ):
        found.status = "ACCEPTED"
        found.closed_at = now
        found.membership_id = membership.id
    return found, membership
