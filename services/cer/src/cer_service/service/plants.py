"""Plants: registration in a community (new, or moved from another), changes,
leaving, and who sees which plants."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from cerc_shared.auth import Principal
from cerc_shared.envelope import ApiError, NotFound
from cerc_shared.events.cer import PlantLeft, PlantRegistered, PlantUpdated
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cer_service import events
from cer_service.models import Community, Plant, PlantPeriod
from cer_service.repository import MembershipRepository, PlantRepository
from cer_service.schemas import (
    PLANT_FIELDS,
    PlantCreate,
    PlantDetail,
    PlantOut,
    PlantPeriodOut,
    PlantUpdate,
    PlantWarning,
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


async def plant_detail(
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
    acc = await access_to(session, principal, data.cer_id, for_update=True)
    require_manager(acc)
    require_active(acc.community)
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
        before = snapshot(plant)
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
    await Changes(session, principal).record(
        plant,
        "plant.registered",
        community_id=data.cer_id,
        before=before,
        after={"valid_from": valid_from.isoformat()},
        events=[events.plant_event(plant, data.cer_id, (valid_from, None), PlantRegistered)],
    )
    return await plant_detail(session, plant, await _warnings(session, plant))


async def _plant_access(
    session: AsyncSession, principal: Principal, plant_id: int, *, for_update: bool = False
) -> tuple[Plant, Access]:
    repo = PlantRepository(session)
    plant = await (repo.get_for_update(plant_id) if for_update else repo.get(plant_id))
    if plant is None or plant.community_id is None:
        raise NotFound("plant")
    try:
        acc = await access_to(session, principal, plant.community_id)
    except ApiError as exc:
        raise NotFound("plant") from exc
    if not acc.reads_all and plant.owner_user_id != principal.user_id:
        raise forbidden("members see only their own plants")
    return plant, acc


async def get_plant(session: AsyncSession, principal: Principal, plant_id: int) -> PlantDetail:
    plant, _ = await _plant_access(session, principal, plant_id)
    return await plant_detail(session, plant)


async def update_plant(
    session: AsyncSession, principal: Principal, plant_id: int, data: PlantUpdate
) -> PlantDetail:
    plant, acc = await _plant_access(session, principal, plant_id, for_update=True)
    require_manager(acc)
    require_active(acc.community)
    if not plant.is_active:
        raise ApiError(409, "plant_inactive", "this plant has left the community")
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "province" in changes:
        changes["province"] = changes["province"].upper()
    changed = sorted(k for k, v in changes.items() if getattr(plant, k) != v)
    if not changed:
        return await plant_detail(session, plant)
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
    async with Changes(session, principal).change(
        plant, "plant.updated", community_id=acc.community.id
    ) as change:
        for key in changed:
            setattr(plant, key, changes[key])
        period = await PlantRepository(session).open_period(plant.id)
        assert period is not None
        change.publish(
            events.plant_event(
                plant,
                acc.community.id,
                (period.valid_from, period.valid_to),
                PlantUpdated,
                changed,
            )
        )
    return await plant_detail(session, plant, await _warnings(session, plant))


async def period_start(plants: PlantRepository, plant: Plant) -> date:
    period = await plants.open_period(plant.id)
    return period.valid_from if period else today()


async def end_plant(changes: Changes, plant: Plant, end: date) -> None:
    """The plant's period in its community ends on ``end`` (the plant leaves)."""
    period = await PlantRepository(changes.session).open_period(plant.id)
    assert period is not None and plant.community_id is not None
    async with changes.change(plant, "plant.left", community_id=plant.community_id) as change:
        period.valid_to = end
        plant.is_active = False
        change.after["valid_to"] = end.isoformat()
        change.publish(
            events.plant_event(plant, period.community_id, (period.valid_from, end), PlantLeft)
        )


async def remove_plant(
    session: AsyncSession, principal: Principal, plant_id: int, left_on: date | None
) -> PlantDetail:
    """The plant leaves its community: its period ends; its history stays."""
    plant, acc = await _plant_access(session, principal, plant_id, for_update=True)
    require_manager(acc)
    if not plant.is_active:
        raise ApiError(409, "plant_inactive", "this plant has already left the community")
    end = left_on or today()
    if end < await period_start(PlantRepository(session), plant):
        raise ApiError(
            422, "invalid_period", "a period cannot end before it began", field="left_on"
        )
    await end_plant(Changes(session, principal), plant, end)
    return await plant_detail(session, plant)


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
    roles: Mapping[int, str] | None = None,
) -> tuple[list[PlantOut], int]:
    """``role``: the caller's role in ``cer_id`` when the caller already checked
    it (a stamp); otherwise it is looked up here, with a 404 for no standing.
    ``roles``: without ``cer_id``, the caller's role by community when already
    read (a view); otherwise they are looked up here."""
    readable: list[int] | None = None
    own_in: list[int] = []
    if cer_id is not None:
        if role is None:
            role = (await access_to(session, principal, cer_id)).role  # 404 for another community
        if not principal.is_platform_admin:
            reads_all = role in ("ADMIN", "VIEWER")
            readable, own_in = ([cer_id], []) if reads_all else ([], [cer_id])
    elif not principal.is_platform_admin:
        if roles is None:
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
