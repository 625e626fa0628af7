"""Every query of the CER service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cerc_shared.db import ReadPool
from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, true
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from cer_service.models import (
    AuditEntry,
    Community,
    DistributionShares,
    Invitation,
    KnownUser,
    Membership,
    Plant,
    PlantPeriod,
)

PRODUCING = ("PRODUCER", "PROSUMER")
CONSUMING = ("CONSUMER", "PROSUMER")


def _open_on(model: type[Membership] | type[PlantPeriod], day: date) -> ColumnElement[bool]:
    """The period [valid_from, valid_to) contains ``day``, or is open and has begun."""
    return and_(model.valid_from <= day, or_(model.valid_to.is_(None), model.valid_to > day))


def _current(model: type[Membership], day: date) -> ColumnElement[bool]:
    """Not ended by ``day``: a member joining later this month may already act."""
    return or_(model.valid_to.is_(None), model.valid_to > day)


def _order(
    columns: dict[str, InstrumentedAttribute[Any]], sort: str, tiebreak: InstrumentedAttribute[Any]
) -> list[Any]:
    descending = sort.startswith("-")
    column = columns[sort.lstrip("-")]
    return [column.desc() if descending else column.asc(), tiebreak]


@dataclass(frozen=True)
class CommunityTotals:
    members_count: int
    total_power: Decimal


@dataclass(frozen=True)
class Stamp:
    """A community's registry version and the caller's current role in it."""

    registry_version: int
    role: str | None
    day: date  # the role is the caller's on this day


@dataclass(frozen=True)
class View:
    """The caller's current role in each community they belong to on ``day``,
    with that community's registry version: what a plant list across
    communities (no ``cer_id``) depends on. ``roles``: (community, version,
    role), by community."""

    roles: tuple[tuple[int, int, str], ...]
    day: date

    def role_by_community(self) -> dict[int, str]:
        return {community_id: role for community_id, _, role in self.roles}


class RegistryStamps:
    """The question every cached read asks first, in one round trip without the ORM."""

    _SQL = """
        SELECT c.registry_version,
               (SELECT m.role FROM memberships m
                 WHERE m.community_id = c.id AND m.user_id = $2
                   AND (m.valid_to IS NULL OR m.valid_to > $3)
                 ORDER BY m.valid_from DESC LIMIT 1) AS role
        FROM communities c WHERE c.id = $1
    """

    def __init__(self, pool: ReadPool) -> None:
        self.pool = pool

    async def stamp(self, community_id: int, user_id: int, day: date) -> Stamp | None:
        async with self.pool.acquire() as connection:
            row = await connection.fetchrow(self._SQL, community_id, user_id, day)
        return None if row is None else Stamp(int(row[0]), row[1], day)

    # The latest period of each community, as _SQL takes it for one.
    _VIEW_SQL = """
        SELECT DISTINCT ON (m.community_id) m.community_id, c.registry_version, m.role
        FROM memberships m JOIN communities c ON c.id = m.community_id
        WHERE m.user_id = $1 AND (m.valid_to IS NULL OR m.valid_to > $2)
        ORDER BY m.community_id, m.valid_from DESC
    """

    async def view(self, user_id: int, day: date) -> View:
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(self._VIEW_SQL, user_id, day)
        return View(tuple((int(r[0]), int(r[1]), str(r[2])) for r in rows), day)


class CommunityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, community_id: int) -> Community | None:
        return await self.session.get(Community, community_id)

    async def get_for_update(self, community_id: int) -> Community | None:
        return await self.session.scalar(
            select(Community).where(Community.id == community_id).with_for_update()
        )

    async def code_taken(self, code: str) -> bool:
        return (
            await self.session.scalar(select(Community.id).where(Community.code == code))
            is not None
        )

    async def add(self, community: Community) -> Community:
        self.session.add(community)
        await self.session.flush()
        return community

    async def page(
        self,
        *,
        member_user_id: int | None,
        today: date,
        page: int,
        per_page: int,
        market_zone: str | None,
        is_active: bool | None,
        sort: str,
    ) -> tuple[list[Community], int]:
        query = select(Community)
        if member_user_id is not None:
            mine = select(Membership.community_id).where(
                Membership.user_id == member_user_id, _current(Membership, today)
            )
            query = query.where(Community.id.in_(mine))
        if market_zone:
            query = query.where(Community.market_zone == market_zone)
        if is_active is not None:
            query = query.where(Community.is_active == is_active)
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        columns = {
            "id": Community.id,
            "name": Community.name,
            "code": Community.code,
            "created_at": Community.created_at,
        }
        rows = await self.session.scalars(
            query.order_by(*_order(columns, sort, Community.id))
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        return list(rows), int(total or 0)

    async def totals(self, community_ids: Sequence[int], today: date) -> dict[int, CommunityTotals]:
        if not community_ids:
            return {}
        members: dict[int, int] = {
            cid: count
            for cid, count in await self.session.execute(
                select(Membership.community_id, func.count())
                .where(Membership.community_id.in_(community_ids), _current(Membership, today))
                .group_by(Membership.community_id)
            )
        }
        power: dict[int | None, Decimal] = {
            cid: total
            for cid, total in await self.session.execute(
                select(Plant.community_id, func.sum(Plant.nominal_power_kw))
                .where(
                    Plant.community_id.in_(community_ids),
                    Plant.is_active,
                    Plant.plant_type.in_(PRODUCING),
                )
                .group_by(Plant.community_id)
            )
        }
        return {
            cid: CommunityTotals(
                members_count=int(members.get(cid, 0)),
                total_power=Decimal(power.get(cid) or 0),
            )
            for cid in community_ids
        }

    async def members_count(self, community_id: int, today: date) -> int:
        count = await self.session.scalar(
            select(func.count()).where(
                Membership.community_id == community_id, _current(Membership, today)
            )
        )
        return int(count or 0)

    async def by_substation(self, community_id: int) -> list[dict[str, Any]]:
        """Active plants per primary substation: counts by type and production power."""

        def count_of(kind: str) -> Any:
            return func.count().filter(Plant.plant_type == kind)

        rows = await self.session.execute(
            select(
                Plant.primary_substation,
                func.count().label("plants_count"),
                count_of("PRODUCER").label("producers_count"),
                count_of("CONSUMER").label("consumers_count"),
                count_of("PROSUMER").label("prosumers_count"),
                func.coalesce(
                    func.sum(
                        case((Plant.plant_type.in_(PRODUCING), Plant.nominal_power_kw), else_=0)
                    ),
                    0,
                ).label("total_power"),
            )
            .where(Plant.community_id == community_id, Plant.is_active)
            .group_by(Plant.primary_substation)
            .order_by(Plant.primary_substation)
        )
        return [dict(row._mapping) for row in rows]


class SharesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def history(self, community_id: int) -> list[DistributionShares]:
        rows = await self.session.scalars(
            select(DistributionShares)
            .where(DistributionShares.community_id == community_id)
            .order_by(DistributionShares.valid_from)
        )
        return list(rows)

    async def in_force(self, community_id: int, day: date) -> DistributionShares | None:
        return await self.session.scalar(
            select(DistributionShares)
            .where(
                DistributionShares.community_id == community_id,
                DistributionShares.valid_from <= day,
            )
            .order_by(DistributionShares.valid_from.desc())
            .limit(1)
        )

    async def exists(self, community_id: int, valid_from: date) -> bool:
        found = await self.session.scalar(
            select(DistributionShares.id).where(
                DistributionShares.community_id == community_id,
                DistributionShares.valid_from == valid_from,
            )
        )
        return found is not None

    async def add(self, shares: DistributionShares) -> DistributionShares:
        self.session.add(shares)
        await self.session.flush()
        return shares


class MembershipRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def role_in(self, community_id: int, user_id: int, today: date) -> str | None:
        return await self.session.scalar(
            select(Membership.role).where(
                Membership.community_id == community_id,
                Membership.user_id == user_id,
                _current(Membership, today),
            )
        )

    async def roles_of(self, user_id: int, today: date) -> dict[int, str]:
        rows = await self.session.execute(
            select(Membership.community_id, Membership.role).where(
                Membership.user_id == user_id, _current(Membership, today)
            )
        )
        return {community_id: role for community_id, role in rows}

    async def current_for_update(
        self, community_id: int, user_id: int, today: date
    ) -> Membership | None:
        return await self.session.scalar(
            select(Membership)
            .where(
                Membership.community_id == community_id,
                Membership.user_id == user_id,
                _current(Membership, today),
            )
            .with_for_update()
        )

    async def open_period(self, community_id: int, user_id: int) -> Membership | None:
        return await self.session.scalar(
            select(Membership).where(
                Membership.community_id == community_id,
                Membership.user_id == user_id,
                Membership.valid_to.is_(None),
            )
        )

    async def member_on(self, community_id: int, user_id: int, day: date) -> bool:
        found = await self.session.scalar(
            select(Membership.id).where(
                Membership.community_id == community_id,
                Membership.user_id == user_id,
                _open_on(Membership, day),
            )
        )
        return found is not None

    async def latest_of_community(self, community_id: int) -> list[Membership]:
        """Each member's (or past member's) latest period in the community, by user id."""
        rows = await self.session.scalars(
            select(Membership)
            .where(Membership.community_id == community_id)
            .ext(distinct_on(Membership.user_id))
            .order_by(Membership.user_id, Membership.valid_from.desc(), Membership.id.desc())
        )
        return list(rows)

    async def of_user(self, user_id: int) -> list[Membership]:
        rows = await self.session.scalars(
            select(Membership).where(Membership.user_id == user_id).order_by(Membership.id)
        )
        return list(rows)

    async def of_user_for_update(self, user_id: int) -> list[Membership]:
        rows = await self.session.scalars(
            select(Membership)
            .where(Membership.user_id == user_id)
            .order_by(Membership.id)
            .with_for_update()
        )
        return list(rows)

    async def add(self, membership: Membership) -> Membership:
        self.session.add(membership)
        await self.session.flush()
        return membership

    async def page(
        self,
        community_id: int,
        *,
        today: date,
        only_user_id: int | None,
        page: int,
        per_page: int,
        role: str | None,
        member_type: str | None,
        body_type: str | None,
        is_active: bool | None,
        sort: str,
    ) -> tuple[list[tuple[Membership, KnownUser | None]], int]:
        query = (
            select(Membership, KnownUser)
            .outerjoin(KnownUser, KnownUser.id == Membership.user_id)
            .where(Membership.community_id == community_id)
        )
        if only_user_id is not None:
            query = query.where(Membership.user_id == only_user_id)
        if role:
            query = query.where(Membership.role == role)
        if member_type:
            query = query.where(Membership.member_type == member_type)
        if body_type:
            query = query.where(Membership.body_type == body_type)
        if is_active is not None:
            current = _current(Membership, today)
            query = query.where(current if is_active else ~current)
        total = await self.session.scalar(
            select(func.count()).select_from(query.with_only_columns(Membership.id).subquery())
        )
        columns = {
            "id": Membership.id,
            "valid_from": Membership.valid_from,
            "username": KnownUser.username,
            "role": Membership.role,
        }
        rows = await self.session.execute(
            query.order_by(*_order(columns, sort, Membership.id))
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        return [(m, u) for m, u in rows], int(total or 0)


class PlantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, plant_id: int) -> Plant | None:
        return await self.session.get(Plant, plant_id)

    async def get_for_update(self, plant_id: int) -> Plant | None:
        return await self.session.scalar(
            select(Plant).where(Plant.id == plant_id).with_for_update()
        )

    async def by_pod_for_update(self, pod: str) -> Plant | None:
        return await self.session.scalar(select(Plant).where(Plant.pod == pod).with_for_update())

    async def add(self, plant: Plant) -> Plant:
        self.session.add(plant)
        await self.session.flush()
        return plant

    async def add_period(self, period: PlantPeriod) -> PlantPeriod:
        self.session.add(period)
        await self.session.flush()
        return period

    async def periods(self, plant_id: int) -> list[PlantPeriod]:
        rows = await self.session.scalars(
            select(PlantPeriod)
            .where(PlantPeriod.plant_id == plant_id)
            .order_by(PlantPeriod.valid_from)
        )
        return list(rows)

    async def open_period(self, plant_id: int) -> PlantPeriod | None:
        return await self.session.scalar(
            select(PlantPeriod).where(
                PlantPeriod.plant_id == plant_id, PlantPeriod.valid_to.is_(None)
            )
        )

    async def overlapping_period(
        self, plant_id: int, valid_from: date, valid_to: date | None
    ) -> PlantPeriod | None:
        """A period of the plant overlapping [valid_from, valid_to)."""
        ends_after_start = or_(PlantPeriod.valid_to.is_(None), PlantPeriod.valid_to > valid_from)
        starts_before_end = true() if valid_to is None else PlantPeriod.valid_from < valid_to
        return await self.session.scalar(
            select(PlantPeriod)
            .where(PlantPeriod.plant_id == plant_id, ends_after_start, starts_before_end)
            .order_by(PlantPeriod.valid_from)
            .limit(1)
        )

    async def has_consumers(self, community_id: int, substation: str, *, except_id: int) -> bool:
        found = await self.session.scalar(
            select(Plant.id)
            .where(
                Plant.community_id == community_id,
                Plant.primary_substation == substation,
                Plant.plant_type.in_(CONSUMING),
                Plant.is_active,
                Plant.id != except_id,
            )
            .limit(1)
        )
        return found is not None

    async def zone_differs(self, community_id: int, zone: str) -> bool:
        found = await self.session.scalar(
            select(Plant.id)
            .where(Plant.community_id == community_id, Plant.is_active, Plant.market_zone != zone)
            .limit(1)
        )
        return found is not None

    async def of_owner(self, user_id: int) -> list[Plant]:
        rows = await self.session.scalars(
            select(Plant).where(Plant.owner_user_id == user_id).order_by(Plant.id)
        )
        return list(rows)

    async def page(
        self,
        *,
        readable_communities: Sequence[int] | None,
        own_plants_in: Sequence[int],
        user_id: int,
        community_id: int | None,
        page: int,
        per_page: int,
        plant_type: str | None,
        primary_substation: str | None,
        market_zone: str | None,
        is_active: bool | None,
        owner_user_id: int | None,
        sort: str,
    ) -> tuple[list[Plant], int]:
        """``readable_communities`` None means every plant (a platform admin)."""
        query = select(Plant)
        if readable_communities is not None:
            visible = or_(
                Plant.community_id.in_(readable_communities) if readable_communities else false(),
                and_(Plant.community_id.in_(own_plants_in), Plant.owner_user_id == user_id)
                if own_plants_in
                else false(),
            )
            query = query.where(visible)
        if community_id is not None:
            query = query.where(Plant.community_id == community_id)
        if plant_type:
            query = query.where(Plant.plant_type == plant_type)
        if primary_substation:
            query = query.where(Plant.primary_substation == primary_substation)
        if market_zone:
            query = query.where(Plant.market_zone == market_zone)
        if is_active is not None:
            query = query.where(Plant.is_active == is_active)
        if owner_user_id is not None:
            query = query.where(Plant.owner_user_id == owner_user_id)
        total = await self.session.scalar(
            select(func.count()).select_from(query.with_only_columns(Plant.id).subquery())
        )
        columns = {
            "id": Plant.id,
            "name": Plant.name,
            "pod": Plant.pod,
            "nominal_power_kw": Plant.nominal_power_kw,
            "entry_into_service": Plant.entry_into_service,
            "created_at": Plant.created_at,
        }
        rows = await self.session.scalars(
            query.order_by(*_order(columns, sort, Plant.id))
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        return list(rows), int(total or 0)


class UserRepository:
    """The read model of users (fed by user.v1)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int) -> KnownUser | None:
        return await self.session.get(KnownUser, user_id)

    async def many(self, user_ids: Sequence[int]) -> dict[int, KnownUser]:
        if not user_ids:
            return {}
        rows = await self.session.scalars(select(KnownUser).where(KnownUser.id.in_(user_ids)))
        return {u.id: u for u in rows}

    async def by_username(self, username: str) -> KnownUser | None:
        # Latest first: one broker may carry more than one environment's users.
        return await self.session.scalar(
            select(KnownUser)
            .where(func.lower(KnownUser.username) == username.lower(), ~KnownUser.erased)
            .order_by(KnownUser.updated_at.desc())
            .limit(1)
        )

    async def by_email(self, email: str) -> KnownUser | None:
        return await self.session.scalar(
            select(KnownUser)
            .where(KnownUser.email == email.lower(), ~KnownUser.erased)
            .order_by(KnownUser.updated_at.desc())
            .limit(1)
        )

    async def upsert(self, values: dict[str, Any]) -> None:
        """Insert or refresh a user; an erased user stays erased."""
        statement = insert(KnownUser).values(**values, erased=False, updated_at=func.now())
        changes = {k: statement.excluded[k] for k in values if k != "id"}
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[KnownUser.id],
                set_={**changes, "updated_at": func.now()},
                where=~KnownUser.erased,
            )
        )


class InvitationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, invitation: Invitation) -> Invitation:
        self.session.add(invitation)
        await self.session.flush()
        return invitation

    async def get_for_update(self, invitation_id: int) -> Invitation | None:
        return await self.session.scalar(
            select(Invitation).where(Invitation.id == invitation_id).with_for_update()
        )

    async def get(self, invitation_id: int) -> Invitation | None:
        return await self.session.get(Invitation, invitation_id)

    async def by_token(self, token_hash: str) -> Invitation | None:
        return await self.session.scalar(
            select(Invitation).where(Invitation.token_hash == token_hash)
        )

    async def lock(self, invitation: Invitation) -> None:
        """Lock the row and reread it (after the community's row, as every write orders them)."""
        await self.session.refresh(invitation, with_for_update=True)

    async def page(
        self, community_id: int, *, page: int, per_page: int
    ) -> tuple[list[Invitation], int]:
        query = select(Invitation).where(Invitation.community_id == community_id)
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(
            query.order_by(Invitation.id.desc()).offset((page - 1) * per_page).limit(per_page)
        )
        return list(rows), int(total or 0)

    async def pending_for(self, email_key: str, now: datetime) -> list[tuple[Invitation, str]]:
        """Open invitations to one address, with their community's name."""
        rows = await self.session.execute(
            select(Invitation, Community.name)
            .join(Community, Community.id == Invitation.community_id)
            .where(
                Invitation.email_key == email_key,
                Invitation.status == "PENDING",
                Invitation.expires_at > now,
                Community.is_active,
            )
            .order_by(Invitation.id)
        )
        return [(i, name) for i, name in rows.tuples()]


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, entry: AuditEntry) -> None:
        self.session.add(entry)
        await self.session.flush()

    async def page(
        self,
        community_id: int,
        *,
        page: int,
        per_page: int,
        entity_type: str | None,
        action: str | None,
    ) -> tuple[list[AuditEntry], int]:
        query = select(AuditEntry).where(AuditEntry.community_id == community_id)
        if entity_type:
            query = query.where(AuditEntry.entity_type == entity_type)
        if action:
            query = query.where(AuditEntry.action == action)
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(
            query.order_by(AuditEntry.id.desc()).offset((page - 1) * per_page).limit(per_page)
        )
        return list(rows), int(total or 0)
