"""The CER registry as another service sees it: one read model for every service.

The CER service owns communities, memberships and plants and publishes them
on ``cer.v1``, ``membership.v1`` and ``plant.v1`` (``cerc_shared.events.cer``).
A service that authorises by the registry, or settles or reports on it, keeps
this read model in its own schema, like the outbox::

    registry = RegistryReadModel(Base.metadata)       # models.py: the tables
    IdempotentConsumer(topics=registry.topics, handler=registry.apply, ...)
    reader = registry.reader(session)                 # queries, by date
    await reader.access(principal, plant_id, on=italian_today())

Tables (unqualified names, in the service's schema): ``communities`` and
``community_shares`` (the statute's split by date), ``plants`` (each plant's
latest facts), ``plant_periods`` (each stay of a plant in a community,
half-open ``[valid_from, valid_to)``) and ``memberships`` (a user's role in a
community over its period). Every question is answered for a day: who
administered the plant's community on that day, which community the plant
was in, which memberships overlapped a month.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Literal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Date,
    DateTime,
    Index,
    MetaData,
    Numeric,
    Select,
    String,
    Table,
    and_,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cerc_shared.auth import Principal
from cerc_shared.events import EventEnvelope
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

Access = Literal["manage", "read"]
"""``manage``: the platform's or the plant's community's administrator; ``read``: its owner."""


@dataclass(frozen=True)
class PlantFacts:
    """A plant as last published. Facts other than ids and the period are None
    on rows carried over from a service's earlier read model until the plant's
    next event (those models kept fewer of them)."""

    plant_id: int
    pod: str
    community_id: int
    owner_user_id: int
    valid_from: date
    valid_to: date | None
    name: str | None
    plant_type: str | None
    nominal_power_kw: Decimal | None
    technology: str | None
    entry_into_service: date | None
    region: str | None
    primary_substation: str | None
    market_zone: str | None
    capital_grant_eur_per_kw: Decimal | None
    connection_voltage: str | None

    def active_on(self, day: date) -> bool:
        return _covers(self.valid_from, self.valid_to, day)


@dataclass(frozen=True)
class PlantPeriod:
    """A plant's stay in one community, ``[valid_from, valid_to)``, and who owned it then."""

    plant_id: int
    community_id: int
    owner_user_id: int
    valid_from: date
    valid_to: date | None

    def active_on(self, day: date) -> bool:
        return _covers(self.valid_from, self.valid_to, day)


@dataclass(frozen=True)
class PlantStay:
    """A plant's stay in one community (:class:`PlantPeriod`) with the plant's
    facts a settlement or an aggregate needs (its latest, see :class:`PlantFacts`)."""

    plant_id: int
    community_id: int
    owner_user_id: int
    valid_from: date
    valid_to: date | None
    pod: str
    primary_substation: str | None
    market_zone: str | None
    nominal_power_kw: Decimal | None
    technology: str | None
    entry_into_service: date | None
    region: str | None
    capital_grant_eur_per_kw: Decimal | None

    def active_on(self, day: date) -> bool:
        return _covers(self.valid_from, self.valid_to, day)


@dataclass(frozen=True)
class MembershipPeriod:
    membership_id: int
    community_id: int
    user_id: int
    role: str
    member_type: str | None
    body_type: str | None
    valid_from: date
    valid_to: date | None

    def active_on(self, day: date) -> bool:
        return _covers(self.valid_from, self.valid_to, day)


@dataclass(frozen=True)
class AccessPeriod:
    """Days ``[valid_from, valid_to)`` in which a principal held a role for a
    plant (None: unbounded): ``read`` as the owner of one of its stays,
    ``manage`` as an administrator of the community it was in."""

    access: Access
    valid_from: date | None
    valid_to: date | None

    def covers(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day < self.valid_to
        )


@dataclass(frozen=True)
class SharesPeriod:
    valid_from: date
    producers_pct: Decimal
    consumers_pct: Decimal
    community_fund_pct: Decimal


@dataclass(frozen=True)
class CommunityFacts:
    community_id: int
    code: str
    name: str
    market_zone: str
    is_active: bool


def _updated_at() -> Column[object]:
    return Column(
        "updated_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=func.now(),
        onupdate=func.now(),
    )


def _covers(valid_from: date, valid_to: date | None, day: date) -> bool:
    return valid_from <= day and (valid_to is None or day < valid_to)


def _active_on(table: Table, day: date) -> ColumnElement[bool]:
    return and_(
        table.c.valid_from <= day,
        or_(table.c.valid_to.is_(None), table.c.valid_to > day),
    )


def _overlaps(table: Table, start: date, end: date) -> ColumnElement[bool]:
    """The row's period meets ``[start, end)``."""
    return and_(
        table.c.valid_from < end,
        or_(table.c.valid_to.is_(None), table.c.valid_to > start),
    )


_PLANT_FACTS = (
    "pod",
    "name",
    "community_id",
    "owner_user_id",
    "plant_type",
    "nominal_power_kw",
    "technology",
    "entry_into_service",
    "region",
    "primary_substation",
    "market_zone",
    "capital_grant_eur_per_kw",
    "connection_voltage",
    "valid_from",
    "valid_to",
)

# The plant's facts a stay carries (PlantStay), from ``plants``.
_STAY_FACTS = (
    "pod",
    "primary_substation",
    "market_zone",
    "nominal_power_kw",
    "technology",
    "entry_into_service",
    "region",
    "capital_grant_eur_per_kw",
)


class RegistryReadModel:
    """The registry's tables in one service's metadata, the handler that keeps
    them, and (through :meth:`reader`) the queries on them."""

    topics: ClassVar[tuple[str, ...]] = (
        CommunityCreated.topic,
        MembershipStarted.topic,
        PlantRegistered.topic,
    )

    def __init__(self, metadata: MetaData) -> None:
        self.communities = Table(
            "communities",
            metadata,
            Column("community_id", BigInteger, primary_key=True, autoincrement=False),
            Column("code", String(40), nullable=False),
            Column("name", String(200), nullable=False),
            Column("market_zone", String(10), nullable=False),
            Column("is_active", Boolean, nullable=False),
            _updated_at(),
        )
        self.community_shares = Table(
            "community_shares",
            metadata,
            Column("community_id", BigInteger, primary_key=True, autoincrement=False),
            Column("valid_from", Date, primary_key=True),
            Column("producers_pct", Numeric(7, 4), nullable=False),
            Column("consumers_pct", Numeric(7, 4), nullable=False),
            Column("community_fund_pct", Numeric(7, 4), nullable=False),
        )
        self.plants = Table(
            "plants",
            metadata,
            Column("plant_id", BigInteger, primary_key=True, autoincrement=False),
            Column("pod", String(40), nullable=False),
            Column("name", String(200)),
            Column("community_id", BigInteger, nullable=False),
            Column("owner_user_id", BigInteger, nullable=False),
            Column("plant_type", String(20)),
            Column("nominal_power_kw", Numeric(12, 3)),
            Column("technology", String(40)),
            Column("entry_into_service", Date),
            Column("region", String(100)),
            Column("primary_substation", String(50)),
            Column("market_zone", String(10)),
            Column("capital_grant_eur_per_kw", Numeric(12, 2)),
            Column("connection_voltage", String(40)),
            Column("valid_from", Date, nullable=False),
            Column("valid_to", Date),
            _updated_at(),
            Index("ix_plants_community_id", "community_id"),
            Index("ix_plants_owner_user_id", "owner_user_id"),
        )
        self.plant_periods = Table(
            "plant_periods",
            metadata,
            Column("plant_id", BigInteger, primary_key=True, autoincrement=False),
            Column("community_id", BigInteger, primary_key=True, autoincrement=False),
            Column("valid_from", Date, primary_key=True),
            Column("valid_to", Date),
            Column("owner_user_id", BigInteger, nullable=False),
            _updated_at(),
            Index("ix_plant_periods_community_id", "community_id", "valid_from"),
        )
        self.memberships = Table(
            "memberships",
            metadata,
            Column("membership_id", BigInteger, primary_key=True, autoincrement=False),
            Column("community_id", BigInteger, nullable=False),
            Column("user_id", BigInteger, nullable=False),
            Column("role", String(20), nullable=False),
            Column("member_type", String(20)),
            Column("body_type", String(40)),
            Column("valid_from", Date, nullable=False),
            Column("valid_to", Date),
            _updated_at(),
            Index("ix_memberships_community_id", "community_id"),
            Index("ix_memberships_user_id", "user_id"),
        )

    # ------------------------------------------------------------ the handler

    async def apply(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        """Fold one registry event in (an ``IdempotentConsumer`` handler); other events pass."""
        event = envelope.data
        if isinstance(event, CommunityCreated | CommunityUpdated | CommunityDeactivated):
            community = {
                "code": event.code,
                "name": event.name,
                "market_zone": event.market_zone,
                "is_active": event.is_active,
            }
            await self._upsert(
                session, self.communities, {"community_id": event.community_id}, community
            )
            # The event carries the whole history of the shares: it replaces ours.
            await session.execute(
                delete(self.community_shares).where(
                    self.community_shares.c.community_id == event.community_id
                )
            )
            if event.distribution_shares:
                await session.execute(
                    insert(self.community_shares),
                    [
                        {"community_id": event.community_id, **shares.model_dump()}
                        for shares in event.distribution_shares
                    ],
                )
        elif isinstance(
            event, MembershipStarted | MembershipUpdated | MembershipEnded | MembershipErased
        ):
            # No personal data is kept here, so an erasure only updates the period.
            membership = {
                "community_id": event.community_id,
                "user_id": event.user_id,
                "role": event.role,
                "member_type": event.member_type,
                "body_type": event.body_type,
                "valid_from": event.valid_from,
                "valid_to": event.valid_to,
            }
            await self._upsert(
                session, self.memberships, {"membership_id": event.membership_id}, membership
            )
        elif isinstance(event, PlantRegistered | PlantUpdated | PlantLeft):
            # PlantLeft carries the closed period (valid_to); the plant stays
            # known so its owner keeps seeing its history.
            facts = {name: getattr(event, name) for name in _PLANT_FACTS}
            await self._upsert(session, self.plants, {"plant_id": event.plant_id}, facts)
            period = {"valid_to": event.valid_to, "owner_user_id": event.owner_user_id}
            key = {
                "plant_id": event.plant_id,
                "community_id": event.community_id,
                "valid_from": event.valid_from,
            }
            await self._upsert(session, self.plant_periods, key, period)

    @staticmethod
    async def _upsert(
        session: AsyncSession, table: Table, key: Mapping[str, object], values: Mapping[str, object]
    ) -> None:
        statement = insert(table).values(**key, **values)
        changes: dict[str, object] = dict(values)
        if "updated_at" in table.c:
            # An upsert's update sets only what it is given (no onupdate defaults).
            changes["updated_at"] = func.now()
        await session.execute(
            statement.on_conflict_do_update(index_elements=list(key), set_=changes)
        )

    # --------------------------------------------------------------- queries

    def reader(self, session: AsyncSession) -> RegistryReader:
        return RegistryReader(self, session)


class RegistryReader:
    """The registry's questions, each for a day (or a span of days), in one session."""

    def __init__(self, model: RegistryReadModel, session: AsyncSession) -> None:
        self.model = model
        self.session = session

    # ------------------------------------------------------------- plants

    async def plant(self, plant_id: int) -> PlantFacts | None:
        return (await self.plants([plant_id])).get(plant_id)

    async def plants(self, plant_ids: Iterable[int]) -> dict[int, PlantFacts]:
        """The latest facts of each plant known, by id, in one query."""
        plants = self.model.plants
        rows = await self.session.execute(
            select(plants).where(plants.c.plant_id.in_(sorted(set(plant_ids))))
        )
        return {
            row.plant_id: PlantFacts(
                plant_id=row.plant_id, **{name: row._mapping[name] for name in _PLANT_FACTS}
            )
            for row in rows
        }

    async def plant_periods(self, plant_id: int) -> list[PlantPeriod]:
        """Every stay of the plant in a community, oldest first."""
        periods = self.model.plant_periods
        return await self._periods(
            select(periods).where(periods.c.plant_id == plant_id).order_by(periods.c.valid_from)
        )

    async def period_of_plant(self, plant_id: int, on: date) -> PlantPeriod | None:
        """The plant's stay that covers ``on``; if none does, the last one begun
        by then (the community it last belonged to, which stays answerable for
        it until it joins another); None if it had joined none by then."""
        periods = self.model.plant_periods
        found = await self._periods(
            select(periods)
            .where(periods.c.plant_id == plant_id, periods.c.valid_from <= on)
            .order_by(periods.c.valid_from.desc())
            .limit(1)
        )
        return found[0] if found else None

    async def plants_of_community(
        self,
        community_id: int,
        *,
        on: date | None = None,
        between: tuple[date, date] | None = None,
    ) -> list[PlantPeriod]:
        """The plants' stays in the community that cover ``on``, or that meet the
        half-open span ``between``; every stay if neither is given. By plant, then date."""
        periods = self.model.plant_periods
        query = select(periods).where(periods.c.community_id == community_id)
        query = query.where(*_when(periods, on, between))
        return await self._periods(query.order_by(periods.c.plant_id, periods.c.valid_from))

    async def plant_stays(
        self,
        community_id: int | None,
        *,
        between: tuple[date, date] | None,
        owner_user_id: int | None = None,
        primary_substation: str | None = None,
        pods: Sequence[str] | None = None,
    ) -> list[PlantStay]:
        """One row per stay of a plant in the community (in any community if
        ``community_id`` is None) that meets the half-open span ``between``
        (every stay if None), with the plant's POD, substation, zone and the
        facts a settlement needs; optionally only the stays owned by
        ``owner_user_id``, of plants on ``primary_substation`` or with one of
        ``pods``. By plant, then date."""
        periods, plants = self.model.plant_periods, self.model.plants
        query = (
            select(
                periods.c.plant_id,
                periods.c.community_id,
                periods.c.owner_user_id,
                periods.c.valid_from,
                periods.c.valid_to,
                *(plants.c[name] for name in _STAY_FACTS),
            )
            .join(plants, plants.c.plant_id == periods.c.plant_id)
            .where(*_when(periods, None, between))
        )
        if community_id is not None:
            query = query.where(periods.c.community_id == community_id)
        if owner_user_id is not None:
            query = query.where(periods.c.owner_user_id == owner_user_id)
        if primary_substation is not None:
            query = query.where(plants.c.primary_substation == primary_substation)
        if pods is not None:
            query = query.where(plants.c.pod.in_(list(pods)))
        rows = await self.session.execute(query.order_by(periods.c.plant_id, periods.c.valid_from))
        return [PlantStay(**row._mapping) for row in rows]

    def visible_plants(self, user_id: int, on: date) -> ColumnElement[bool]:
        """On ``plants``: the user owns the plant or administers its community on ``on``."""
        plants = self.model.plants
        return or_(
            plants.c.owner_user_id == user_id,
            plants.c.community_id.in_(self.administered_communities_query(user_id, on)),
        )

    async def visible_plant_ids(self, user_id: int, on: date) -> list[int]:
        """The plants a user owns and those of the communities they administer on ``on``."""
        plants = self.model.plants
        rows = await self.session.scalars(
            select(plants.c.plant_id)
            .where(self.visible_plants(user_id, on))
            .order_by(plants.c.plant_id)
        )
        return list(rows)

    # -------------------------------------------------------- memberships

    def administered_communities_query(self, user_id: int, on: date) -> Select[int]:
        memberships = self.model.memberships
        return select(memberships.c.community_id).where(
            memberships.c.user_id == user_id,
            memberships.c.role == "ADMIN",
            _active_on(memberships, on),
        )

    async def administered_communities(self, user_id: int, on: date) -> list[int]:
        rows = await self.session.scalars(
            self.administered_communities_query(user_id, on).distinct().order_by("community_id")
        )
        return list(rows)

    async def is_community_admin(self, user_id: int, community_id: int, on: date) -> bool:
        found = await self.session.scalar(
            self.administered_communities_query(user_id, on)
            .where(self.model.memberships.c.community_id == community_id)
            .limit(1)
        )
        return found is not None

    async def memberships_of_community(
        self,
        community_id: int,
        *,
        on: date | None = None,
        between: tuple[date, date] | None = None,
    ) -> list[MembershipPeriod]:
        """Memberships that cover ``on`` or meet the half-open span ``between``
        (every one if neither is given), by user, then date."""
        memberships = self.model.memberships
        query = select(memberships).where(memberships.c.community_id == community_id)
        query = query.where(*_when(memberships, on, between))
        return await self._memberships(
            query.order_by(memberships.c.user_id, memberships.c.valid_from)
        )

    async def memberships_of_user(
        self, user_id: int, *, on: date | None = None
    ) -> list[MembershipPeriod]:
        memberships = self.model.memberships
        query = select(memberships).where(memberships.c.user_id == user_id)
        query = query.where(*_when(memberships, on, None))
        return await self._memberships(
            query.order_by(memberships.c.community_id, memberships.c.valid_from)
        )

    # -------------------------------------------------------- communities

    async def community(self, community_id: int) -> CommunityFacts | None:
        communities = self.model.communities
        row = (
            await self.session.execute(
                select(
                    communities.c.community_id,
                    communities.c.code,
                    communities.c.name,
                    communities.c.market_zone,
                    communities.c.is_active,
                ).where(communities.c.community_id == community_id)
            )
        ).first()
        return CommunityFacts(*row) if row else None

    async def shares_on(self, community_id: int, on: date) -> SharesPeriod | None:
        """The statute's split in force on ``on`` (the last one set from that day or before)."""
        shares = self.model.community_shares
        row = (
            await self.session.execute(
                select(
                    shares.c.valid_from,
                    shares.c.producers_pct,
                    shares.c.consumers_pct,
                    shares.c.community_fund_pct,
                )
                .where(shares.c.community_id == community_id, shares.c.valid_from <= on)
                .order_by(shares.c.valid_from.desc())
                .limit(1)
            )
        ).first()
        return SharesPeriod(*row) if row else None

    # ------------------------------------------------------------- access

    async def access(self, principal: Principal, plant: PlantFacts, on: date) -> Access | None:
        """What ``principal`` may do with the plant on ``on``: ``manage`` (a
        platform administrator, or an administrator on that day of the community
        the plant was in, see :meth:`period_of_plant`), ``read`` (its owner in
        that stay) or nothing."""
        if principal.is_platform_admin:
            return "manage"
        period = await self.period_of_plant(plant.plant_id, on)
        community_id = period.community_id if period else plant.community_id
        owner_user_id = period.owner_user_id if period else plant.owner_user_id
        if await self.is_community_admin(principal.user_id, community_id, on):
            return "manage"
        if owner_user_id == principal.user_id:
            return "read"
        return None

    async def access_periods(
        self, principal: Principal, on: date, plant_ids: Sequence[int] | None = None
    ) -> dict[int, list[AccessPeriod]] | None:
        """Per plant (those of ``plant_ids``, else every one), the days in which
        ``principal`` held a role for it, so that a POD registered again by
        someone else never opens its earlier tenant's history (issue 12, item 1):
        each stay it owned (``read``), and each stay in a community it
        administers on ``on``, cut to its ADMIN memberships there (``manage``).
        Days before a plant's first stay belong to that stay (no other tenant
        had it). Plants without any such day are left out; None: every plant
        and every day (a platform administrator)."""
        if principal.is_platform_admin:
            return None
        periods, memberships = self.model.plant_periods, self.model.memberships
        administered = await self.administered_communities(principal.user_id, on)
        concerned = select(periods.c.plant_id).where(
            or_(
                periods.c.owner_user_id == principal.user_id,
                periods.c.community_id.in_(administered),
            )
        )
        if plant_ids is not None:
            concerned = concerned.where(periods.c.plant_id.in_(sorted(set(plant_ids))))
        stays = await self._periods(
            select(periods)
            .where(periods.c.plant_id.in_(concerned))
            .order_by(periods.c.plant_id, periods.c.valid_from)
        )
        admin_spans: dict[int, list[MembershipPeriod]] = {}
        if administered:
            for membership in await self._memberships(
                select(memberships).where(
                    memberships.c.user_id == principal.user_id,
                    memberships.c.role == "ADMIN",
                    memberships.c.community_id.in_(administered),
                )
            ):
                admin_spans.setdefault(membership.community_id, []).append(membership)
        found: dict[int, list[AccessPeriod]] = {}
        first_seen: set[int] = set()
        for stay in stays:
            start = stay.valid_from if stay.plant_id in first_seen else None
            first_seen.add(stay.plant_id)
            spans = []
            if stay.owner_user_id == principal.user_id:
                spans.append(AccessPeriod("read", start, stay.valid_to))
            for membership in admin_spans.get(stay.community_id, []):
                begin = (
                    membership.valid_from if start is None else max(start, membership.valid_from)
                )
                end = _earlier(stay.valid_to, membership.valid_to)
                if end is None or begin < end:
                    spans.append(AccessPeriod("manage", begin, end))
            if spans:
                found.setdefault(stay.plant_id, []).extend(spans)
        return found

    async def may_read_plant(self, principal: Principal, plant_id: int, on: date) -> bool:
        plant = await self.plant(plant_id)
        return plant is not None and await self.access(principal, plant, on) is not None

    async def may_manage_plant(self, principal: Principal, plant_id: int, on: date) -> bool:
        plant = await self.plant(plant_id)
        return plant is not None and await self.access(principal, plant, on) == "manage"

    # ------------------------------------------------------------ helpers

    async def _periods(self, query: Select[Any]) -> list[PlantPeriod]:
        rows = await self.session.execute(query)
        return [
            PlantPeriod(
                plant_id=r.plant_id,
                community_id=r.community_id,
                owner_user_id=r.owner_user_id,
                valid_from=r.valid_from,
                valid_to=r.valid_to,
            )
            for r in rows
        ]

    async def _memberships(self, query: Select[Any]) -> list[MembershipPeriod]:
        rows = await self.session.execute(query)
        return [
            MembershipPeriod(
                membership_id=r.membership_id,
                community_id=r.community_id,
                user_id=r.user_id,
                role=r.role,
                member_type=r.member_type,
                body_type=r.body_type,
                valid_from=r.valid_from,
                valid_to=r.valid_to,
            )
            for r in rows
        ]


def _earlier(first: date | None, second: date | None) -> date | None:
    """The earlier of two period ends, None being open."""
    if first is None:
        return second
    return first if second is None else min(first, second)


def _when(
    table: Table, on: date | None, between: tuple[date, date] | None
) -> list[ColumnElement[bool]]:
    conditions = []
    if on is not None:
        conditions.append(_active_on(table, on))
    if between is not None:
        conditions.append(_overlaps(table, *between))
    return conditions
