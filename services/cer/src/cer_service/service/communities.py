"""Communities: founding, the summary, the list, changes, the benefit shares
and the audit trail."""

from __future__ import annotations

from decimal import Decimal

from cerc_shared.auth import Principal
from cerc_shared.envelope import ApiError
from cerc_shared.events.cer import (
    CommunityCreated,
    CommunityDeactivated,
    CommunityUpdated,
    MembershipStarted,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cer_service import events
from cer_service.models import AuditEntry, Community, DistributionShares, Membership
from cer_service.repository import (
    AuditRepository,
    CommunityRepository,
    MembershipRepository,
    PlantRepository,
    SharesRepository,
)
from cer_service.schemas import (
    CommunityCreate,
    CommunityListItem,
    CommunityOut,
    CommunityUpdate,
    Documents,
    SharesIn,
    SharesOut,
    SubstationSummary,
)
from cer_service.service.access import (
    Access,
    access_to,
    forbidden,
    require_active,
    require_manager,
    today,
)
from cer_service.service.changes import Changes, snapshot


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
        device_offline_threshold_min=data.device_offline_threshold_min,
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
    in_force = await SharesRepository(session).add(
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
    changes = Changes(session, principal)
    await changes.record(
        community,
        "community.created",
        community_id=community.id,
        before=None,
        after={"distribution_shares": snapshot(in_force)},
        events=[await events.community_event(session, community, CommunityCreated)],
    )
    await changes.record(
        founder,
        "member.added",
        community_id=community.id,
        before=None,
        events=[events.membership_event(founder, MembershipStarted)],
    )
    return community


async def community_summary(
    session: AsyncSession, principal: Principal, community_id: int
) -> CommunityOut:
    acc = await access_to(session, principal, community_id)
    return await summary(session, acc)


async def summary(session: AsyncSession, acc: Access) -> CommunityOut:
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
        device_offline_threshold_min=community.device_offline_threshold_min,
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
    acc = await access_to(session, principal, community_id, for_update=True)
    require_manager(acc)
    require_active(acc.community)
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
        async with Changes(session, principal).change(
            community, "community.updated", community_id=community.id
        ) as change:
            for key in changed:
                setattr(community, key, changes[key])
            change.publish(
                await events.community_event(session, community, CommunityUpdated, changed)
            )
    return await summary(session, acc)


async def deactivate_community(
    session: AsyncSession, principal: Principal, community_id: int
) -> CommunityOut:
    acc = await access_to(session, principal, community_id, for_update=True)
    if not acc.platform_admin:
        raise forbidden("only a platform administrator may deactivate a community")
    community = acc.community
    if community.is_active:
        async with Changes(session, principal).change(
            community, "community.deactivated", community_id=community.id
        ) as change:
            community.is_active = False
            change.publish(await events.community_event(session, community, CommunityDeactivated))
    return await summary(session, acc)


async def add_shares(
    session: AsyncSession, principal: Principal, community_id: int, data: SharesIn
) -> list[DistributionShares]:
    acc = await access_to(session, principal, community_id, for_update=True)
    require_manager(acc)
    require_active(acc.community)
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
    await Changes(session, principal).record(
        added,
        "shares.added",
        community_id=community_id,
        before=None,
        events=[
            await events.community_event(
                session, acc.community, CommunityUpdated, ["distribution_shares"]
            )
        ],
    )
    return await repo.history(community_id)


async def shares_history(
    session: AsyncSession, principal: Principal, community_id: int
) -> list[DistributionShares]:
    await access_to(session, principal, community_id)
    return await SharesRepository(session).history(community_id)


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
    acc = await access_to(session, principal, community_id)
    require_manager(acc)
    return await AuditRepository(session).page(
        community_id, page=page, per_page=per_page, entity_type=entity_type, action=action
    )
