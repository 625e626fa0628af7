"""Memberships: joining, changes, leaving, and who sees whose personal data
(sealed at rest, in clear for the member and the managers, masked otherwise)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cerc_shared.auth import Principal
from cerc_shared.envelope import ApiError, NotFound
from cerc_shared.events.cer import MembershipEnded, MembershipStarted, MembershipUpdated
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cer_service import events
from cer_service.identifiers import mask
from cer_service.models import KnownUser, Membership
from cer_service.repository import MembershipRepository, PlantRepository, UserRepository
from cer_service.schemas import MemberAdd, MemberOut, MemberUpdate
from cer_service.service.access import (
    CerContext,
    access_to,
    forbidden,
    require_active,
    require_manager,
    today,
)
from cer_service.service.changes import PERSONAL_FIELDS, Changes
from cer_service.service.plants import end_plant, period_start


def _seal(ctx: CerContext, m: Membership, name: str, value: str | None) -> str | None:
    if value is None:
        return None
    return ctx.cipher.seal(value, context=f"cer:{m.community_id}:user:{m.user_id}:{name}")


def _open(ctx: CerContext, m: Membership, name: str) -> str | None:
    sealed: str | None = getattr(m, f"{name}_sealed")
    if sealed is None:
        return None
    return ctx.cipher.open(sealed, context=f"cer:{m.community_id}:user:{m.user_id}:{name}")


def member_out(
    ctx: CerContext, m: Membership, user: KnownUser | None, *, clear: bool, day: date
) -> MemberOut:
    personal = {name: _open(ctx, m, name) for name in PERSONAL_FIELDS}
    if not clear:
        personal = {k: mask(v) if v else v for k, v in personal.items()}
    return MemberOut(
        membership_id=m.id,
        community_id=m.community_id,
        user_id=m.user_id,
        username=user.username if user else None,
        first_name=user.first_name if user else None,
        last_name=user.last_name if user else None,
        role=m.role,
        member_type=m.member_type,
        body_type=m.body_type,
        personal_data_masked=not clear,
        valid_from=m.valid_from,
        valid_to=m.valid_to,
        is_active=m.valid_to is None or m.valid_to > day,
        erased=m.erased_at is not None,
        **personal,
    )


def _check_member_facts(
    role: str, member_type: str, body_type: str, tax_code: str | None, vat_number: str | None
) -> None:
    """What the rules need to know of a member who takes part in the sharing."""
    if (
        tax_code is not None
        and member_type == "PRIVATE"
        and body_type == "NONE"
        and len(tax_code) != 16
    ):
        raise ApiError(
            422,
            "invalid_tax_code",
            "a private person's codice fiscale has 16 characters",
            field="tax_code",
        )
    if role != "MEMBER":
        return
    if member_type == "PRIVATE" and body_type == "NONE":
        if tax_code is None:
            raise ApiError(
                422,
                "tax_code_required",
                "a private member needs a codice fiscale",
                field="tax_code",
            )
    elif vat_number is None and tax_code is None:
        raise ApiError(
            422,
            "vat_number_required",
            "an enterprise or a body needs a partita IVA (or its codice fiscale)",
            field="vat_number",
        )


async def _resolve_user(session: AsyncSession, data: MemberAdd) -> tuple[KnownUser, str]:
    users = UserRepository(session)
    if data.user_id is not None:
        user, field = await users.get(data.user_id), "user_id"
    elif data.username is not None:
        user, field = await users.by_username(data.username), "username"
    else:
        user, field = await users.by_email(data.email or ""), "email"
    if user is None or user.erased:
        raise ApiError(422, "unknown_user", "no registered user by that name", field=field)
    if not user.is_active:
        raise ApiError(422, "user_inactive", "this user's account is deactivated", field=field)
    return user, field


async def add_member(
    session: AsyncSession, ctx: CerContext, principal: Principal, community_id: int, data: MemberAdd
) -> MemberOut:
    """Add a user directly: the platform's own seeding and support only. A
    community's managers invite (service/invitations.py): nobody joins a
    community, nor has their name shown to its managers, without consenting."""
    acc = await access_to(session, principal, community_id, for_update=True)
    if not principal.is_platform_admin:
        raise forbidden(
            "members join by invitation: POST /api/cer/{cer_id}/invitations/ with their e-mail"
        )
    require_active(acc.community)
    user, field = await _resolve_user(session, data)
    membership = await start_membership(
        session,
        ctx,
        principal,
        community_id,
        user.id,
        MemberFacts(
            role=data.role,
            member_type=data.member_type,
            body_type=data.body_type,
            tax_code=data.tax_code,
            vat_number=data.vat_number,
            iban=data.iban,
            joined_on=data.joined_on,
        ),
        field=field,
    )
    return member_out(ctx, membership, user, clear=True, day=today())


@dataclass(frozen=True)
class MemberFacts:
    role: str
    member_type: str
    body_type: str
    tax_code: str | None
    vat_number: str | None
    iban: str | None
    joined_on: date | None


async def start_membership(
    session: AsyncSession,
    ctx: CerContext,
    principal: Principal,
    community_id: int,
    user_id: int,
    facts: MemberFacts,
    *,
    field: str,
) -> Membership:
    """The one way a membership begins (added by the platform or an accepted
    invitation): checks, sealed personal data, audit entry and event. The
    caller holds the community's row locked and has checked who may do it."""
    _check_member_facts(
        facts.role, facts.member_type, facts.body_type, facts.tax_code, facts.vat_number
    )
    joined_on = facts.joined_on or today()
    memberships = MembershipRepository(session)
    if await memberships.open_period(community_id, user_id) is not None:
        raise ApiError(409, "already_member", "this user is already a member", field=field)
    if any(
        m.community_id == community_id and m.valid_to is not None and m.valid_to > joined_on
        for m in await memberships.of_user(user_id)
    ):
        raise ApiError(
            409,
            "overlapping_membership",
            "an earlier membership of this user ends after this date",
            field="joined_on",
        )
    membership = Membership(
        community_id=community_id,
        user_id=user_id,
        role=facts.role,
        member_type=facts.member_type,
        body_type=facts.body_type,
        valid_from=joined_on,
    )
    membership.tax_code_sealed = _seal(ctx, membership, "tax_code", facts.tax_code)
    membership.vat_number_sealed = _seal(ctx, membership, "vat_number", facts.vat_number)
    membership.iban_sealed = _seal(ctx, membership, "iban", facts.iban)
    try:
        await memberships.add(membership)
    except IntegrityError as exc:
        raise ApiError(409, "already_member", "this user is already a member", field=field) from exc
    await Changes(session, principal).record(
        membership,
        "member.added",
        community_id=community_id,
        before=None,
        events=[events.membership_event(membership, MembershipStarted)],
    )
    return membership


async def _admins_left(session: AsyncSession, community_id: int, without_user: int) -> int:
    rows, _ = await MembershipRepository(session).page(
        community_id,
        today=today(),
        only_user_id=None,
        page=1,
        per_page=2,
        role="ADMIN",
        member_type=None,
        body_type=None,
        is_active=True,
        sort="id",
    )
    return sum(1 for m, _ in rows if m.user_id != without_user)


async def update_member(
    session: AsyncSession,
    ctx: CerContext,
    principal: Principal,
    community_id: int,
    user_id: int,
    data: MemberUpdate,
) -> MemberOut:
    acc = await access_to(session, principal, community_id, for_update=True)
    require_manager(acc)
    require_active(acc.community)
    membership = await MembershipRepository(session).current_for_update(
        community_id, user_id, today()
    )
    if membership is None:
        raise NotFound("member")
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    current = {name: _open(ctx, membership, name) for name in PERSONAL_FIELDS}
    merged = {**current, **{k: changes.get(k, current[k]) for k in PERSONAL_FIELDS}}
    role = changes.get("role", membership.role)
    member_type = changes.get("member_type", membership.member_type)
    body_type = changes.get("body_type", membership.body_type)
    _check_member_facts(role, member_type, body_type, merged["tax_code"], merged["vat_number"])
    if "valid_from" in changes:
        await _check_new_start(session, membership, changes["valid_from"])
    if (
        membership.role == "ADMIN"
        and role != "ADMIN"
        and not await _admins_left(session, community_id, user_id)
    ):
        raise ApiError(
            409, "last_admin", "a community needs at least one administrator", field="role"
        )
    changed = sorted(
        k
        for k, v in changes.items()
        if (current[k] if k in PERSONAL_FIELDS else getattr(membership, k)) != v
    )
    if changed:
        async with Changes(session, principal).change(
            membership, "member.updated", community_id=community_id
        ) as change:
            for key in changed:
                if key in PERSONAL_FIELDS:
                    setattr(membership, f"{key}_sealed", _seal(ctx, membership, key, changes[key]))
                else:
                    setattr(membership, key, changes[key])
            # The events carry no personal data: a change of it alone tells them nothing.
            public = [k for k in changed if k not in PERSONAL_FIELDS]
            if public:
                change.publish(events.membership_event(membership, MembershipUpdated, public))
    user = await UserRepository(session).get(user_id)
    return member_out(ctx, membership, user, clear=True, day=today())


async def _check_new_start(session: AsyncSession, membership: Membership, start: date) -> None:
    """A corrected first day keeps the period current (so before its end, which
    is after today) and clear of the member's earlier period in the same
    community (periods never overlap)."""
    if start > today():
        raise ApiError(
            422,
            "invalid_period",
            "a current membership cannot begin after today",
            field="valid_from",
            expected=f"a date on or before {today().isoformat()}",
        )
    earlier = [
        m
        for m in await MembershipRepository(session).of_user(membership.user_id)
        if m.community_id == membership.community_id
        and m.id != membership.id
        and m.valid_from < membership.valid_from
    ]
    for previous in earlier:
        if previous.valid_to is None or start < previous.valid_to:
            raise ApiError(
                409,
                "period_overlap",
                "the member's previous period in this community runs until then",
                field="valid_from",
                expected=f"a date on or after {previous.valid_to or previous.valid_from}",
            )


async def remove_member(
    session: AsyncSession,
    ctx: CerContext,
    principal: Principal,
    community_id: int,
    user_id: int,
    left_on: date | None,
) -> MemberOut:
    """End the membership period (and the member's plants' periods); delete nothing."""
    acc = await access_to(session, principal, community_id, for_update=True)
    if user_id != principal.user_id:
        require_manager(acc)
    membership = await MembershipRepository(session).current_for_update(
        community_id, user_id, today()
    )
    if membership is None:
        raise NotFound("member")
    end = left_on or today()
    if end < membership.valid_from:
        raise ApiError(
            422, "invalid_period", "a membership cannot end before it began", field="left_on"
        )
    if membership.role == "ADMIN" and not await _admins_left(session, community_id, user_id):
        raise ApiError(
            409, "last_admin", "a community needs at least one administrator", field="user_id"
        )
    changes = Changes(session, principal)
    async with changes.change(membership, "member.removed", community_id=community_id) as change:
        membership.valid_to = end
        change.publish(events.membership_event(membership, MembershipEnded))
    plants = PlantRepository(session)
    for plant in await plants.of_owner(user_id):
        if plant.community_id == community_id and plant.is_active:
            await end_plant(changes, plant, max(end, await period_start(plants, plant)))
    user = await UserRepository(session).get(user_id)
    return member_out(ctx, membership, user, clear=True, day=today())


async def list_members(
    session: AsyncSession,
    ctx: CerContext,
    principal: Principal,
    community_id: int,
    *,
    page: int,
    per_page: int,
    role: str | None,
    member_type: str | None,
    body_type: str | None,
    is_active: bool | None,
    sort: str,
) -> tuple[list[MemberOut], int]:
    acc = await access_to(session, principal, community_id)
    day = today()
    rows, total = await MembershipRepository(session).page(
        community_id,
        today=day,
        # A MEMBER sees their own membership; the admins and viewers see everyone.
        only_user_id=None if acc.reads_all else principal.user_id,
        page=page,
        per_page=per_page,
        role=role,
        member_type=member_type,
        body_type=body_type,
        is_active=is_active,
        sort=sort,
    )
    items = [
        member_out(ctx, m, u, clear=acc.can_manage or m.user_id == principal.user_id, day=day)
        for m, u in rows
    ]
    return items, total


async def get_member(
    session: AsyncSession, ctx: CerContext, principal: Principal, community_id: int, user_id: int
) -> MemberOut:
    acc = await access_to(session, principal, community_id)
    if not acc.reads_all and user_id != principal.user_id:
        raise forbidden("members see only their own membership")
    history = [
        m
        for m in await MembershipRepository(session).of_user(user_id)
        if m.community_id == community_id
    ]
    if not history:
        raise NotFound("member")
    latest = history[-1]
    user = await UserRepository(session).get(user_id)
    clear = acc.can_manage or user_id == principal.user_id
    return member_out(ctx, latest, user, clear=clear, day=today())


@dataclass(frozen=True)
class PayeeFacts:
    user_id: int
    name: str | None
    iban: str | None  # in clear: only for a client granted registry:read-iban


async def payees(session: AsyncSession, ctx: CerContext, community_id: int) -> list[PayeeFacts]:
    """Every member's (and past member's) name and IBAN from their latest period: what a
    payout of money owed to them needs, even after they left."""
    memberships = await MembershipRepository(session).latest_of_community(community_id)
    users = await UserRepository(session).many([m.user_id for m in memberships])
    out = []
    for m in memberships:
        user = users.get(m.user_id)
        name = " ".join(p for p in (user.first_name, user.last_name) if p) if user else None
        out.append(PayeeFacts(m.user_id, name or None, _open(ctx, m, "iban")))
    return out
