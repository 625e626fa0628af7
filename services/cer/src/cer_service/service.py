"""The CER service's domain logic: who may do what, the checks at the door,
the audit trail and the events. It flushes, never commits: the request's
session decides (see cerc_shared.db)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from cerc_shared.auth import Principal
from cerc_shared.crypto import FieldCipher
from cerc_shared.db import ReadPool
from cerc_shared.envelope import ApiError, Envelope, NotFound, PageMeta, ok
from cerc_shared.events.cer import (
    CommunityCreated,
    CommunityDeactivated,
    CommunityUpdated,
    MembershipEnded,
    MembershipErased,
    MembershipStarted,
    MembershipUpdated,
    PlantLeft,
    PlantRegistered,
    PlantUpdated,
)
from cerc_shared.logging import get_correlation_id
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cer_service import events
from cer_service.identifiers import mask
from cer_service.models import (
    AuditEntry,
    Community,
    DistributionShares,
    KnownUser,
    Membership,
    Plant,
    PlantPeriod,
)
from cer_service.read_cache import ReadCache
from cer_service.registry_watch import RegistryWatch
from cer_service.repository import (
    AuditRepository,
    CommunityRepository,
    MembershipRepository,
    PlantRepository,
    RegistryStamps,
    SharesRepository,
    Stamp,
    UserRepository,
)
from cer_service.schemas import (
    CommunityCreate,
    CommunityListItem,
    CommunityOut,
    CommunityUpdate,
    Documents,
    MemberAdd,
    MemberOut,
    MemberUpdate,
    PlantCreate,
    PlantDetail,
    PlantOut,
    PlantPeriodOut,
    PlantUpdate,
    PlantWarning,
    SharesIn,
    SharesOut,
    SubstationSummary,
)
from cer_service.settings import CerSettings
from cer_service.storage import DocumentStorage

ITALY = ZoneInfo("Europe/Rome")
PERSONAL_FIELDS = ("tax_code", "vat_number", "iban")
DocumentKind = Literal["statute", "regulation", "logo"]


def today() -> date:
    """Periods are Italian calendar dates."""
    return datetime.now(ITALY).date()


@dataclass(frozen=True)
class CerContext:
    """What the service needs beyond the session, built once in the lifespan."""

    settings: CerSettings
    cipher: FieldCipher
    storage: DocumentStorage
    reads: ReadCache
    watch: RegistryWatch | None = None


@dataclass(frozen=True)
class Access:
    community: Community
    user_id: int
    role: str | None
    platform_admin: bool

    @property
    def can_manage(self) -> bool:
        return self.platform_admin or self.role == "ADMIN"

    @property
    def reads_all(self) -> bool:
        return self.platform_admin or self.role in ("ADMIN", "VIEWER")


async def access(
    session: AsyncSession, principal: Principal, community_id: int, *, for_update: bool = False
) -> Access:
    """The caller's standing in a community; 404 for anyone with none (no probing)."""
    repo = CommunityRepository(session)
    community = await (repo.get_for_update(community_id) if for_update else repo.get(community_id))
    if community is None:
        raise NotFound("community")
    if principal.is_platform_admin:
        role = await MembershipRepository(session).role_in(community_id, principal.user_id, today())
        return Access(community, principal.user_id, role, platform_admin=True)
    role = await MembershipRepository(session).role_in(community_id, principal.user_id, today())
    if role is None:
        raise NotFound("community")
    return Access(community, principal.user_id, role, platform_admin=False)


def _forbidden(message: str = "only the community's administrators may do this") -> ApiError:
    return ApiError(403, "forbidden", message)


def _require_manager(acc: Access) -> None:
    if not acc.can_manage:
        raise _forbidden()


def _require_active(community: Community) -> None:
    if not community.is_active:
        raise ApiError(409, "community_inactive", "this community has been deactivated")


# ------------------------------------------------------------------ audit


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {f: _jsonable(getattr(obj, f)) for f in fields}


COMMUNITY_FIELDS = (
    "name",
    "code",
    "description",
    "market_zone",
    "is_active",
    "logo",
    "statute_document",
    "regulation_document",
)
PLANT_FIELDS = (
    "name",
    "pod",
    "plant_type",
    "community_id",
    "owner_user_id",
    "nominal_power_kw",
    "technology",
    "entry_into_service",
    "address",
    "city",
    "province",
    "region",
    "zip_code",
    "latitude",
    "longitude",
    "primary_substation",
    "market_zone",
    "capital_grant_eur_per_kw",
    "connection_voltage",
    "is_active",
)


def _membership_snapshot(m: Membership) -> dict[str, Any]:
    # Personal data never enters the append-only trail, not even masked: an
    # erasure could not take it back out.
    snap = _snapshot(m, ("user_id", "role", "member_type", "body_type", "valid_from", "valid_to"))
    for name in PERSONAL_FIELDS:
        snap[name] = "<sealed>" if getattr(m, f"{name}_sealed") else None
    return snap


async def _audit(
    session: AsyncSession,
    *,
    community_id: int | None,
    actor: int,
    action: str,
    entity_type: str,
    entity_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    await AuditRepository(session).add(
        AuditEntry(
            community_id=community_id,
            actor_user_id=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=before,
            after=after,
            correlation_id=get_correlation_id(),
        )
    )


# ------------------------------------------------------------ communities


def _check_shares(shares: SharesIn) -> None:
    total = shares.producers_pct + shares.consumers_pct + shares.community_fund_pct
    if total != Decimal(100):
        raise ApiError(
            422,
            "shares_do_not_add_up",
            f"producers, consumers and community fund shares add up to {total}%, not 100%",
            field="distribution_shares",
            expected="producers_pct + consumers_pct + community_fund_pct = 100",
        )


async def create_community(
    session: AsyncSession, principal: Principal, data: CommunityCreate
) -> Community:
    repo = CommunityRepository(session)
    code = data.code.upper()
    if await repo.code_taken(code):
        raise ApiError(409, "code_taken", "a community with this code exists", field="code")
    _check_shares(data.distribution_shares)
    community = Community(
        name=data.name,
        code=code,
        description=data.description,
        market_zone=data.market_zone,
        is_active=True,
        created_by=principal.user_id,
    )
    try:
        await repo.add(community)
    except IntegrityError as exc:  # a concurrent creation won the race
        raise ApiError(
            409, "code_taken", "a community with this code exists", field="code"
        ) from exc
    shares = data.distribution_shares
    await SharesRepository(session).add(
        DistributionShares(
            community_id=community.id,
            valid_from=shares.valid_from or today(),
            producers_pct=shares.producers_pct,
            consumers_pct=shares.consumers_pct,
            community_fund_pct=shares.community_fund_pct,
        )
    )
    # Self-service onboarding: whoever creates the community is its first ADMIN.
    founder = await MembershipRepository(session).add(
        Membership(
            community_id=community.id,
            user_id=principal.user_id,
            role="ADMIN",
            member_type="ENTERPRISE" if principal.user_type == "BUSINESS" else "PRIVATE",
            body_type="NONE",
            valid_from=today(),
        )
    )
    after = _snapshot(community, COMMUNITY_FIELDS)
    after["distribution_shares"] = _jsonable_shares(shares, shares.valid_from or today())
    await _audit(
        session,
        community_id=community.id,
        actor=principal.user_id,
        action="community.created",
        entity_type="community",
        entity_id=community.id,
        before=None,
        after=after,
    )
    await _audit(
        session,
        community_id=community.id,
        actor=principal.user_id,
        action="member.added",
        entity_type="membership",
        entity_id=founder.id,
        before=None,
        after=_membership_snapshot(founder),
    )
    await events.publish_community(session, community, CommunityCreated)
    await events.publish_membership(session, founder, MembershipStarted)
    return community


def _jsonable_shares(shares: SharesIn, valid_from: date) -> dict[str, Any]:
    return {
        "valid_from": valid_from.isoformat(),
        "producers_pct": str(shares.producers_pct),
        "consumers_pct": str(shares.consumers_pct),
        "community_fund_pct": str(shares.community_fund_pct),
    }


async def community_summary(
    session: AsyncSession, principal: Principal, community_id: int
) -> CommunityOut:
    acc = await access(session, principal, community_id)
    return await _summary(session, acc)


async def _summary(session: AsyncSession, acc: Access) -> CommunityOut:
    community = acc.community
    repo = CommunityRepository(session)
    day = today()
    # One pass over the plants: the totals are the sums of the substations'.
    substations = [SubstationSummary(**row) for row in await repo.by_substation(community.id)]
    shares = await SharesRepository(session).in_force(community.id, day)
    return CommunityOut(
        id=community.id,
        name=community.name,
        code=community.code,
        description=community.description,
        market_zone=community.market_zone,
        is_active=community.is_active,
        members_count=await repo.members_count(community.id, day),
        total_power=sum((s.total_power for s in substations), Decimal(0)),
        plants_count=sum(s.plants_count for s in substations),
        power_by_substation=substations,
        distribution_shares=SharesOut.model_validate(shares) if shares else None,
        documents=Documents(
            statute=community.statute_document is not None,
            regulation=community.regulation_document is not None,
            logo=community.logo is not None,
        ),
        my_role=acc.role,
        created_at=community.created_at,
        updated_at=community.updated_at,
    )


async def list_communities(
    session: AsyncSession,
    principal: Principal,
    *,
    page: int,
    per_page: int,
    market_zone: str | None,
    is_active: bool | None,
    sort: str,
) -> tuple[list[CommunityListItem], int]:
    repo = CommunityRepository(session)
    day = today()
    communities, total = await repo.page(
        member_user_id=None if principal.is_platform_admin else principal.user_id,
        today=day,
        page=page,
        per_page=per_page,
        market_zone=market_zone,
        is_active=is_active,
        sort=sort,
    )
    totals = await repo.totals([c.id for c in communities], day)
    items = [
        CommunityListItem(
            id=c.id,
            name=c.name,
            code=c.code,
            market_zone=c.market_zone,
            is_active=c.is_active,
            members_count=totals[c.id].members_count,
            total_power=totals[c.id].total_power,
            created_at=c.created_at,
        )
        for c in communities
    ]
    return items, total


async def update_community(
    session: AsyncSession, principal: Principal, community_id: int, data: CommunityUpdate
) -> CommunityOut:
    acc = await access(session, principal, community_id, for_update=True)
    _require_manager(acc)
    _require_active(acc.community)
    community = acc.community
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    changed = sorted(k for k, v in changes.items() if getattr(community, k) != v)
    if "market_zone" in changed and await PlantRepository(session).zone_differs(
        community.id, changes["market_zone"]
    ):
        raise ApiError(
            409,
            "zone_mismatch",
            "the community has active plants in its current market zone",
            field="market_zone",
        )
    if changed:
        before = _snapshot(community, COMMUNITY_FIELDS)
        for key in changed:
            setattr(community, key, changes[key])
        await session.flush()
        await _audit(
            session,
            community_id=community.id,
            actor=principal.user_id,
            action="community.updated",
            entity_type="community",
            entity_id=community.id,
            before=before,
            after=_snapshot(community, COMMUNITY_FIELDS),
        )
        await events.publish_community(session, community, CommunityUpdated, changed)
    return await _summary(session, acc)


async def deactivate_community(
    session: AsyncSession, principal: Principal, community_id: int
) -> CommunityOut:
    acc = await access(session, principal, community_id, for_update=True)
    if not acc.platform_admin:
        raise _forbidden("only a platform administrator may deactivate a community")
    community = acc.community
    if community.is_active:
        before = _snapshot(community, COMMUNITY_FIELDS)
        community.is_active = False
        await session.flush()
        await _audit(
            session,
            community_id=community.id,
            actor=principal.user_id,
            action="community.deactivated",
            entity_type="community",
            entity_id=community.id,
            before=before,
            after=_snapshot(community, COMMUNITY_FIELDS),
        )
        await events.publish_community(session, community, CommunityDeactivated)
    return await _summary(session, acc)


async def add_shares(
    session: AsyncSession, principal: Principal, community_id: int, data: SharesIn
) -> list[DistributionShares]:
    acc = await access(session, principal, community_id, for_update=True)
    _require_manager(acc)
    _require_active(acc.community)
    _check_shares(data)
    valid_from = data.valid_from or today()
    repo = SharesRepository(session)
    if await repo.exists(community_id, valid_from):
        raise ApiError(409, "shares_exist", "shares already set from this date", field="valid_from")
    added = await repo.add(
        DistributionShares(
            community_id=community_id,
            valid_from=valid_from,
            producers_pct=data.producers_pct,
            consumers_pct=data.consumers_pct,
            community_fund_pct=data.community_fund_pct,
        )
    )
    await _audit(
        session,
        community_id=community_id,
        actor=principal.user_id,
        action="shares.added",
        entity_type="distribution_shares",
        entity_id=added.id,
        before=None,
        after=_jsonable_shares(data, valid_from),
    )
    await events.publish_community(
        session, acc.community, CommunityUpdated, ["distribution_shares"]
    )
    return await repo.history(community_id)


async def shares_history(
    session: AsyncSession, principal: Principal, community_id: int
) -> list[DistributionShares]:
    await access(session, principal, community_id)
    return await SharesRepository(session).history(community_id)


# --------------------------------------------------------------- documents

_PDF = b"%PDF-"
_LOGO_MAGIC = {b"\x89PNG\r\n\x1a\n": ("png", "image/png"), b"\xff\xd8\xff": ("jpg", "image/jpeg")}
MEDIA_TYPES = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg"}


def _document_type(kind: DocumentKind, content_type: str | None, data: bytes) -> str:
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if kind in ("statute", "regulation"):
        if declared not in (
            "application/pdf",
            "application/octet-stream",
            "",
        ) or not data.startswith(_PDF):
            raise ApiError(
                415,
                "not_a_pdf",
                "the document must be a PDF",
                field="file",
                expected="application/pdf",
            )
        return "pdf"
    for magic, (extension, media) in _LOGO_MAGIC.items():
        if data.startswith(magic) and declared in (media, "application/octet-stream", ""):
            return extension
    raise ApiError(
        415,
        "not_an_image",
        "the logo must be PNG or JPEG",
        field="file",
        expected="image/png or image/jpeg",
    )


def document_limit(ctx: CerContext, kind: DocumentKind) -> int:
    return ctx.settings.max_logo_bytes if kind == "logo" else ctx.settings.max_document_bytes


async def upload_document(
    session: AsyncSession,
    ctx: CerContext,
    principal: Principal,
    community_id: int,
    kind: DocumentKind,
    content_type: str | None,
    data: bytes,
) -> CommunityOut:
    acc = await access(session, principal, community_id, for_update=True)
    _require_manager(acc)
    _require_active(acc.community)
    limit = document_limit(ctx, kind)
    if len(data) > limit:
        raise ApiError(
            413, "document_too_large", f"the {kind} may be at most {limit} bytes", field="file"
        )
    if not data:
        raise ApiError(422, "empty_document", "the file is empty", field="file")
    extension = _document_type(kind, content_type, data)
    key = f"{community_id}/{kind}-{hashlib.sha256(data).hexdigest()[:32]}.{extension}"
    # Content-addressed: a write whose transaction then rolls back leaves an
    # unreferenced file, never a wrong one.
    await ctx.storage.put(key, data)
    community = acc.community
    column = "logo" if kind == "logo" else f"{kind}_document"
    before = _snapshot(community, COMMUNITY_FIELDS)
    setattr(community, column, key)
    await session.flush()
    await _audit(
        session,
        community_id=community_id,
        actor=principal.user_id,
        action=f"document.{kind}.uploaded",
        entity_type="community",
        entity_id=community_id,
        before=before,
        after=_snapshot(community, COMMUNITY_FIELDS),
    )
    await events.publish_community(session, community, CommunityUpdated, [column])
    return await _summary(session, acc)


async def download_document(
    session: AsyncSession,
    ctx: CerContext,
    principal: Principal,
    community_id: int,
    kind: DocumentKind,
) -> tuple[bytes, str]:
    acc = await access(session, principal, community_id)
    column = "logo" if kind == "logo" else f"{kind}_document"
    key: str | None = getattr(acc.community, column)
    data = await ctx.storage.get(key) if key else None
    if data is None or key is None:
        raise NotFound(kind)
    return data, MEDIA_TYPES[key.rsplit(".", 1)[-1]]


# ------------------------------------------------------------------ members


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
    acc = await access(session, principal, community_id, for_update=True)
    _require_manager(acc)
    _require_active(acc.community)
    user, field = await _resolve_user(session, data)
    _check_member_facts(data.role, data.member_type, data.body_type, data.tax_code, data.vat_number)
    joined_on = data.joined_on or today()
    memberships = MembershipRepository(session)
    if await memberships.open_period(community_id, user.id) is not None:
        raise ApiError(409, "already_member", "this user is already a member", field=field)
    if any(
        m.community_id == community_id and m.valid_to is not None and m.valid_to > joined_on
        for m in await memberships.of_user(user.id)
    ):
        raise ApiError(
            409,
            "overlapping_membership",
            "an earlier membership of this user ends after this date",
            field="joined_on",
        )
    membership = Membership(
        community_id=community_id,
        user_id=user.id,
        role=data.role,
        member_type=data.member_type,
        body_type=data.body_type,
        valid_from=joined_on,
    )
    membership.tax_code_sealed = _seal(ctx, membership, "tax_code", data.tax_code)
    membership.vat_number_sealed = _seal(ctx, membership, "vat_number", data.vat_number)
    membership.iban_sealed = _seal(ctx, membership, "iban", data.iban)
    try:
        await memberships.add(membership)
    except IntegrityError as exc:
        raise ApiError(409, "already_member", "this user is already a member", field=field) from exc
    await _audit(
        session,
        community_id=community_id,
        actor=principal.user_id,
        action="member.added",
        entity_type="membership",
        entity_id=membership.id,
        before=None,
        after=_membership_snapshot(membership),
    )
    await events.publish_membership(session, membership, MembershipStarted)
    return member_out(ctx, membership, user, clear=True, day=today())


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
    acc = await access(session, principal, community_id, for_update=True)
    _require_manager(acc)
    _require_active(acc.community)
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
        before = _membership_snapshot(membership)
        for key in changed:
            if key in PERSONAL_FIELDS:
                setattr(membership, f"{key}_sealed", _seal(ctx, membership, key, changes[key]))
            else:
                setattr(membership, key, changes[key])
        await session.flush()
        await _audit(
            session,
            community_id=community_id,
            actor=principal.user_id,
            action="member.updated",
            entity_type="membership",
            entity_id=membership.id,
            before=before,
            after=_membership_snapshot(membership),
        )
        public = [k for k in changed if k not in PERSONAL_FIELDS]
        if public:
            await events.publish_membership(session, membership, MembershipUpdated, public)
    user = await UserRepository(session).get(user_id)
    return member_out(ctx, membership, user, clear=True, day=today())


async def remove_member(
    session: AsyncSession,
    ctx: CerContext,
    principal: Principal,
    community_id: int,
    user_id: int,
    left_on: date | None,
) -> MemberOut:
    """End the membership period (and the member's plants' periods); delete nothing."""
    acc = await access(session, principal, community_id, for_update=True)
    if user_id != principal.user_id:
        _require_manager(acc)
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
    before = _membership_snapshot(membership)
    membership.valid_to = end
    await session.flush()
    await _audit(
        session,
        community_id=community_id,
        actor=principal.user_id,
        action="member.removed",
        entity_type="membership",
        entity_id=membership.id,
        before=before,
        after=_membership_snapshot(membership),
    )
    await events.publish_membership(session, membership, MembershipEnded)
    plants = PlantRepository(session)
    for plant in await plants.of_owner(user_id):
        if plant.community_id == community_id and plant.is_active:
            await _end_plant(
                session, principal, plant, max(end, await _period_start(plants, plant))
            )
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
    acc = await access(session, principal, community_id)
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
    acc = await access(session, principal, community_id)
    if not acc.reads_all and user_id != principal.user_id:
        raise _forbidden("members see only their own membership")
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


# ------------------------------------------------------------------- plants


def _check_plant_facts(plant_type: str, technology: str | None, entry: date | None) -> None:
    if plant_type in ("PRODUCER", "PROSUMER"):
        if technology is None:
            raise ApiError(
                422,
                "technology_required",
                "a producing plant needs its technology",
                field="technology",
            )
        if entry is None:
            raise ApiError(
                422,
                "entry_into_service_required",
                "a producing plant needs its entry-into-service date",
                field="entry_into_service",
            )


def _check_zone(community: Community, zone: str) -> None:
    if zone != community.market_zone:
        raise ApiError(
            422,
            "zone_mismatch",
            f"the plant is in market zone {zone}, the community in {community.market_zone}",
            field="market_zone",
            expected=community.market_zone,
        )


async def _warnings(session: AsyncSession, plant: Plant) -> list[PlantWarning]:
    assert plant.community_id is not None
    if plant.plant_type == "PRODUCER" and not await PlantRepository(session).has_consumers(
        plant.community_id, plant.primary_substation, except_id=plant.id
    ):
        return [
            PlantWarning(
                code="no_consumers_in_substation",
                message=(
                    f"the community has no consumers under substation {plant.primary_substation}:"
                    " this plant shares no energy there until one joins"
                ),
                field="primary_substation",
            )
        ]
    return []


async def _detail(
    session: AsyncSession, plant: Plant, warnings: list[PlantWarning] | None = None
) -> PlantDetail:
    periods = await PlantRepository(session).periods(plant.id)
    return PlantDetail(
        **PlantOut.model_validate(plant).model_dump(),
        periods=[PlantPeriodOut.model_validate(p) for p in periods],
        warnings=warnings or [],
    )


async def create_plant(
    session: AsyncSession, principal: Principal, data: PlantCreate
) -> PlantDetail:
    acc = await access(session, principal, data.cer_id, for_update=True)
    _require_manager(acc)
    _require_active(acc.community)
    _check_zone(acc.community, data.market_zone)
    _check_plant_facts(data.plant_type, data.technology, data.entry_into_service)
    valid_from = data.valid_from or today()
    if not await MembershipRepository(session).member_on(
        data.cer_id, data.owner_user_id, valid_from
    ):
        raise ApiError(
            422,
            "owner_not_member",
            "the owner is not a member of the community on that date",
            field="owner_user_id",
        )
    plants = PlantRepository(session)
    facts = data.model_dump(exclude={"cer_id", "valid_from"})
    facts["province"] = facts["province"].upper()
    plant = await plants.by_pod_for_update(data.pod)
    before = None
    if plant is not None:
        overlap = await plants.overlapping_period(plant.id, valid_from, None)
        if overlap is not None and overlap.community_id == data.cer_id:
            raise ApiError(
                409,
                "pod_already_registered",
                "this POD is already registered in this community",
                field="pod",
            )
        if overlap is not None:
            # Which community holds it is not this caller's business.
            raise ApiError(
                409,
                "pod_in_other_community",
                "this POD belongs to another community for an overlapping period",
                field="pod",
            )
        before = _snapshot(plant, PLANT_FIELDS)
        for key, value in facts.items():
            setattr(plant, key, value)
        plant.community_id, plant.is_active = data.cer_id, True
        await session.flush()
    else:
        plant = Plant(**facts, community_id=data.cer_id, is_active=True)
        try:
            await plants.add(plant)
        except IntegrityError as exc:  # a concurrent registration of the same POD
            raise ApiError(
                409, "pod_taken", "this POD was registered meanwhile", field="pod"
            ) from exc
    await plants.add_period(
        PlantPeriod(plant_id=plant.id, community_id=data.cer_id, valid_from=valid_from)
    )
    await _audit(
        session,
        community_id=data.cer_id,
        actor=principal.user_id,
        action="plant.registered",
        entity_type="plant",
        entity_id=plant.id,
        before=before,
        after={**_snapshot(plant, PLANT_FIELDS), "valid_from": valid_from.isoformat()},
    )
    await events.publish_plant(session, plant, data.cer_id, (valid_from, None), PlantRegistered)
    return await _detail(session, plant, await _warnings(session, plant))


async def _plant_access(
    session: AsyncSession, principal: Principal, plant_id: int, *, for_update: bool = False
) -> tuple[Plant, Access]:
    repo = PlantRepository(session)
    plant = await (repo.get_for_update(plant_id) if for_update else repo.get(plant_id))
    if plant is None or plant.community_id is None:
        raise NotFound("plant")
    try:
        acc = await access(session, principal, plant.community_id)
    except ApiError as exc:
        raise NotFound("plant") from exc
    if not acc.reads_all and plant.owner_user_id != principal.user_id:
        raise _forbidden("members see only their own plants")
    return plant, acc


async def get_plant(session: AsyncSession, principal: Principal, plant_id: int) -> PlantDetail:
    plant, _ = await _plant_access(session, principal, plant_id)
    return await _detail(session, plant)


async def update_plant(
    session: AsyncSession, principal: Principal, plant_id: int, data: PlantUpdate
) -> PlantDetail:
    plant, acc = await _plant_access(session, principal, plant_id, for_update=True)
    _require_manager(acc)
    _require_active(acc.community)
    if not plant.is_active:
        raise ApiError(409, "plant_inactive", "this plant has left the community")
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "province" in changes:
        changes["province"] = changes["province"].upper()
    changed = sorted(k for k, v in changes.items() if getattr(plant, k) != v)
    if not changed:
        return await _detail(session, plant)
    merged = {k: changes.get(k, getattr(plant, k)) for k in PLANT_FIELDS}
    _check_zone(acc.community, merged["market_zone"])
    _check_plant_facts(merged["plant_type"], merged["technology"], merged["entry_into_service"])
    if "owner_user_id" in changed and not await MembershipRepository(session).member_on(
        acc.community.id, merged["owner_user_id"], today()
    ):
        raise ApiError(
            422,
            "owner_not_member",
            "the new owner is not a member of the community",
            field="owner_user_id",
        )
    before = _snapshot(plant, PLANT_FIELDS)
    for key in changed:
        setattr(plant, key, changes[key])
    await session.flush()
    await _audit(
        session,
        community_id=acc.community.id,
        actor=principal.user_id,
        action="plant.updated",
        entity_type="plant",
        entity_id=plant.id,
        before=before,
        after=_snapshot(plant, PLANT_FIELDS),
    )
    period = await PlantRepository(session).open_period(plant.id)
    assert period is not None
    await events.publish_plant(
        session,
        plant,
        acc.community.id,
        (period.valid_from, period.valid_to),
        PlantUpdated,
        changed,
    )
    return await _detail(session, plant, await _warnings(session, plant))


async def _period_start(plants: PlantRepository, plant: Plant) -> date:
    period = await plants.open_period(plant.id)
    return period.valid_from if period else today()


async def _end_plant(session: AsyncSession, principal: Principal, plant: Plant, end: date) -> None:
    plants = PlantRepository(session)
    period = await plants.open_period(plant.id)
    assert period is not None and plant.community_id is not None
    before = _snapshot(plant, PLANT_FIELDS)
    period.valid_to = end
    plant.is_active = False
    await session.flush()
    await _audit(
        session,
        community_id=plant.community_id,
        actor=principal.user_id,
        action="plant.left",
        entity_type="plant",
        entity_id=plant.id,
        before=before,
        after={**_snapshot(plant, PLANT_FIELDS), "valid_to": end.isoformat()},
    )
    await events.publish_plant(
        session, plant, period.community_id, (period.valid_from, end), PlantLeft
    )


async def remove_plant(
    session: AsyncSession, principal: Principal, plant_id: int, left_on: date | None
) -> PlantDetail:
    """The plant leaves its community: its period ends; its history stays."""
    plant, acc = await _plant_access(session, principal, plant_id, for_update=True)
    _require_manager(acc)
    if not plant.is_active:
        raise ApiError(409, "plant_inactive", "this plant has already left the community")
    end = left_on or today()
    if end < await _period_start(PlantRepository(session), plant):
        raise ApiError(
            422, "invalid_period", "a period cannot end before it began", field="left_on"
        )
    await _end_plant(session, principal, plant, end)
    return await _detail(session, plant)


@dataclass(frozen=True)
class PlantQuery:
    """A page of the plant list: its filters, order and page (hashable: a cache key)."""

    page: int = 1
    per_page: int = 20
    plant_type: str | None = None
    primary_substation: str | None = None
    market_zone: str | None = None
    is_active: bool | None = None
    owner_user_id: int | None = None
    sort: str = "id"


async def list_plants(
    session: AsyncSession,
    principal: Principal,
    *,
    cer_id: int | None,
    query: PlantQuery,
    role: str | None = None,
) -> tuple[list[PlantOut], int]:
    """``role``: the caller's role in ``cer_id`` when the caller already checked
    it (a stamp); otherwise it is looked up here, with a 404 for no standing."""
    readable: list[int] | None = None
    own_in: list[int] = []
    if cer_id is not None:
        if role is None:
            role = (await access(session, principal, cer_id)).role  # 404 for another community
        if not principal.is_platform_admin:
            reads_all = role in ("ADMIN", "VIEWER")
            readable, own_in = ([cer_id], []) if reads_all else ([], [cer_id])
    elif not principal.is_platform_admin:
        roles = await MembershipRepository(session).roles_of(principal.user_id, today())
        readable = [c for c, r in roles.items() if r in ("ADMIN", "VIEWER")]
        own_in = [c for c, r in roles.items() if r == "MEMBER"]
    plants, total = await PlantRepository(session).page(
        readable_communities=readable,
        own_plants_in=own_in,
        user_id=principal.user_id,
        community_id=cer_id,
        page=query.page,
        per_page=query.per_page,
        plant_type=query.plant_type,
        primary_substation=query.primary_substation,
        market_zone=query.market_zone,
        is_active=query.is_active,
        owner_user_id=query.owner_user_id,
        sort=query.sort,
    )
    return [PlantOut.model_validate(p) for p in plants], total


@dataclass(frozen=True)
class Reads:
    """What a cached read needs: the answers kept, and where its stamp comes from."""

    cache: ReadCache
    pool: ReadPool
    watch: RegistryWatch | None = None

    @classmethod
    def of(cls, state: Any) -> Reads:
        """From the app's state (the pool is there so tests can hand out their
        own; the watch vouches only for the pool it was built with)."""
        context: CerContext = state.cer_context
        pool: ReadPool = state.read_pool
        watch = context.watch if context.watch is not None and context.watch.pool is pool else None
        return cls(context.reads, pool, watch)

    async def stamp(self, community_id: int, user_id: int, day: date) -> Stamp | None:
        if self.watch is not None:
            return await self.watch.stamp(community_id, user_id, day)
        return await RegistryStamps(self.pool).stamp(community_id, user_id, day)

    async def through(self, key: Hashable, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        """The answer kept under ``key``, or ``compute``'s, then kept."""
        body = self.cache.get(key)
        if body is None:
            body = await compute()
            self.cache.put(key, body)
        return body


QueryItems = tuple[tuple[str, str], ...]


def query_items(pairs: Iterable[tuple[str, str]]) -> QueryItems:
    """A query string as a cache key: its pairs, order aside."""
    return tuple(sorted(pairs))


def _json(envelope: Envelope[Any]) -> bytes:
    return envelope.model_dump_json().encode()


async def readable_stamp(reads: Reads, principal: Principal, community_id: int) -> Stamp:
    """The registry version, and 404 for anyone with no standing (as ``access``)."""
    stamp = await reads.stamp(community_id, principal.user_id, today())
    if stamp is None or (stamp.role is None and not principal.is_platform_admin):
        raise NotFound("community")
    return stamp


def summary_key(community_id: int, stamp: Stamp) -> Hashable:
    return ("summary", community_id, stamp.registry_version, stamp.day, stamp.role)


def plants_key(
    community_id: int, stamp: Stamp, principal: Principal, query: QueryItems
) -> Hashable:
    """A page as asked (the raw query string): only a page the endpoint validated
    and answered is ever stored under it. A MEMBER sees their own plants only."""
    reads_all = principal.is_platform_admin or stamp.role in ("ADMIN", "VIEWER")
    scope = "all" if reads_all else principal.user_id
    return ("plants", community_id, stamp.registry_version, scope, query)


async def community_summary_json(
    session: AsyncSession, principal: Principal, community_id: int, reads: Reads
) -> bytes:
    """The summary's response body, from the cache when the registry has not moved."""
    stamp = await readable_stamp(reads, principal, community_id)

    async def compute() -> bytes:
        community = await CommunityRepository(session).get(community_id)
        if community is None:  # gone since the stamp
            raise NotFound("community")
        acc = Access(community, principal.user_id, stamp.role, principal.is_platform_admin)
        return _json(ok(await _summary(session, acc)))

    return await reads.through(summary_key(community_id, stamp), compute)


async def plants_page_json(
    session: AsyncSession,
    principal: Principal,
    reads: Reads,
    *,
    cer_id: int | None,
    query: PlantQuery,
    asked: QueryItems,
) -> bytes:
    """A page of plants as a response body; one community's pages come from the
    cache while its registry has not moved."""

    async def compute(role: str | None = None) -> bytes:
        plants, total = await list_plants(session, principal, cer_id=cer_id, query=query, role=role)
        return _json(ok(plants, PageMeta(page=query.page, per_page=query.per_page, total=total)))

    if cer_id is None:
        return await compute()
    stamp = await readable_stamp(reads, principal, cer_id)
    return await reads.through(
        plants_key(cer_id, stamp, principal, asked), lambda: compute(stamp.role)
    )


# -------------------------------------------------------------- audit trail


async def audit_trail(
    session: AsyncSession,
    principal: Principal,
    community_id: int,
    *,
    page: int,
    per_page: int,
    entity_type: str | None,
    action: str | None,
) -> tuple[list[AuditEntry], int]:
    acc = await access(session, principal, community_id)
    _require_manager(acc)
    return await AuditRepository(session).page(
        community_id, page=page, per_page=per_page, entity_type=entity_type, action=action
    )


# ------------------------------------------------------------ personal data


async def export_personal_data(
    session: AsyncSession, ctx: CerContext, principal: Principal
) -> dict[str, Any]:
    """Everything this service holds about the caller, in clear (GDPR art. 15/20)."""
    user = await UserRepository(session).get(principal.user_id)
    day = today()
    memberships = await MembershipRepository(session).of_user(principal.user_id)
    plants = await PlantRepository(session).of_owner(principal.user_id)
    return {
        "user_id": principal.user_id,
        "username": user.username if user else None,
        "email": user.email if user else None,
        "first_name": user.first_name if user else None,
        "last_name": user.last_name if user else None,
        "memberships": [member_out(ctx, m, user, clear=True, day=day) for m in memberships],
        "plants": [await _detail(session, p) for p in plants],
        "exported_at": datetime.now(UTC),
    }


async def erase_personal_data(session: AsyncSession, principal: Principal) -> tuple[int, int]:
    """Pseudonymise the caller: end their memberships and plants, drop their
    personal data; ids, periods and powers stay so settlements remain whole."""
    day = today()
    ended = erased = 0
    plants = PlantRepository(session)
    for m in await MembershipRepository(session).of_user_for_update(principal.user_id):
        before = _membership_snapshot(m)
        if m.valid_to is None or m.valid_to > day:
            m.valid_to = max(day, m.valid_from)
            ended += 1
            await events.publish_membership(session, m, MembershipEnded)
        m.tax_code_sealed = m.vat_number_sealed = m.iban_sealed = None
        if m.erased_at is None:
            m.erased_at = datetime.now(UTC)
            erased += 1
        await session.flush()
        await _audit(
            session,
            community_id=m.community_id,
            actor=principal.user_id,
            action="member.erased",
            entity_type="membership",
            entity_id=m.id,
            before=before,
            after=_membership_snapshot(m),
        )
        await events.publish_membership(session, m, MembershipErased)
    for plant in await plants.of_owner(principal.user_id):
        if plant.is_active:
            await _end_plant(
                session, principal, plant, max(day, await _period_start(plants, plant))
            )
        # The street address and coordinates point at a person's home.
        plant.address, plant.latitude, plant.longitude = "", None, None
    user = await UserRepository(session).get(principal.user_id)
    if user is not None:
        user.username = f"erased-{user.id}"
        user.email = f"erased-{user.id}@invalid"
        user.first_name = user.last_name = ""
        user.erased = True
    await session.flush()
    return ended, erased
