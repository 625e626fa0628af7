"""The registry read model against a real PostgreSQL: events fold in once per
fact, and every question is answered for a day (a plant's stays, the
memberships of a span, the statute's shares, who may read or manage)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from cerc_shared.auth import Principal
from cerc_shared.db import service_metadata
from cerc_shared.events import EventEnvelope
from cerc_shared.events.base import Event
from cerc_shared.events.cer import (
    CommunityCreated,
    CommunityUpdated,
    MembershipEnded,
    MembershipStarted,
    PlantLeft,
    PlantRegistered,
    PlantUpdated,
    SharesPeriod,
)
from cerc_shared.events.user import UserRegistered
from cerc_shared.readmodels import PlantPeriod, PlantStay, RegistryReadModel
from cerc_shared.testing import bootstrap_database, rolled_back_sessionmaker, service_dsn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

pytestmark = pytest.mark.servers

metadata = service_metadata()
registry = RegistryReadModel(metadata)

ADMIN_A, ADMIN_B, OWNER, NEW_OWNER, STRANGER = 10, 20, 30, 40, 50


@pytest.fixture(scope="module")
def database() -> str:
    bootstrap_database("cerc_test_readmodels")
    return service_dsn("reporting", "cerc_test_readmodels")


@pytest.fixture
async def maker(database: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(
        database, connect_args={"server_settings": {"search_path": "reporting"}}
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    async with rolled_back_sessionmaker(engine) as maker:
        yield maker
    await engine.dispose()


def _plant(kind: type[Event], community: int, owner: int, **period: Any) -> Event:
    facts: dict[str, Any] = {
        "plant_id": 7,
        "pod": "IT001E00000007",
        "name": "Tetto",
        "community_id": community,
        "owner_user_id": owner,
        "plant_type": "PRODUCER",
        "nominal_power_kw": Decimal("20.000"),
        "technology": "PV",
        "entry_into_service": date(2023, 5, 1),
        "region": "Lazio",
        "primary_substation": "AC001",
        "market_zone": "CSUD",
        "capital_grant_eur_per_kw": Decimal("0"),
        "connection_voltage": None,
    }
    return kind(**{**facts, **period})


def _membership(kind: type[Event], mid: int, community: int, user: int, **period: Any) -> Event:
    return kind(
        membership_id=mid,
        community_id=community,
        user_id=user,
        role="ADMIN",
        member_type="PRIVATE",
        body_type="NONE",
        **period,
    )


async def _apply(maker: async_sessionmaker[AsyncSession], *events: Event) -> None:
    async with maker() as session, session.begin():
        for event in events:
            envelope = EventEnvelope.wrap(event, producer="cer", correlation_id=None)
            await registry.apply(session, envelope)


async def test_a_moved_plant_answers_by_date(maker: async_sessionmaker[AsyncSession]) -> None:
    # In community 1 from 2024-01-01 to 2025-03-01, then in community 2.
    await _apply(
        maker,
        _membership(MembershipStarted, 1, 1, ADMIN_A, valid_from=date(2023, 1, 1), valid_to=None),
        _membership(MembershipStarted, 2, 2, ADMIN_B, valid_from=date(2023, 1, 1), valid_to=None),
        _plant(PlantRegistered, 1, OWNER, valid_from=date(2024, 1, 1), valid_to=None),
        _plant(PlantUpdated, 1, OWNER, valid_from=date(2024, 1, 1), valid_to=None),
        _plant(PlantLeft, 1, OWNER, valid_from=date(2024, 1, 1), valid_to=date(2025, 3, 1)),
        _plant(PlantRegistered, 2, NEW_OWNER, valid_from=date(2025, 3, 1), valid_to=None),
        UserRegistered(
            user_id=99,
            username="x",
            email="x@example.org",
            first_name="X",
            last_name="Y",
            user_type="PRIVATE",
            is_active=True,
        ),
    )
    async with maker() as session:
        reader = registry.reader(session)
        assert await reader.plant_periods(7) == [
            PlantPeriod(7, 1, OWNER, date(2024, 1, 1), date(2025, 3, 1)),
            PlantPeriod(7, 2, NEW_OWNER, date(2025, 3, 1), None),
        ]
        plant = await reader.plant(7)
        assert plant is not None
        assert (plant.community_id, plant.owner_user_id, plant.market_zone) == (
            2,
            NEW_OWNER,
            "CSUD",
        )
        assert plant.nominal_power_kw == Decimal("20.000")

        def who(user: int, user_type: str = "PRIVATE") -> Principal:
            return Principal(user_id=user, username="u", user_type=user_type, token_id="t")

        before, after = date(2025, 2, 28), date(2025, 3, 1)
        assert await reader.access(who(ADMIN_A), plant, before) == "manage"
        assert await reader.access(who(ADMIN_A), plant, after) is None
        assert await reader.access(who(ADMIN_B), plant, before) is None
        assert await reader.access(who(ADMIN_B), plant, after) == "manage"
        assert await reader.access(who(OWNER), plant, before) == "read"
        assert await reader.access(who(OWNER), plant, after) is None
        assert await reader.access(who(NEW_OWNER), plant, after) == "read"
        assert await reader.access(who(STRANGER), plant, after) is None
        assert await reader.access(who(STRANGER, "ADMIN"), plant, after)
        assert await reader.may_manage_plant(who(ADMIN_A), 7, before)
        assert not await reader.may_manage_plant(who(OWNER), 7, before)
        assert await reader.may_read_plant(who(OWNER), 7, before)
        assert not await reader.may_read_plant(who(OWNER), 8, before)  # unknown plant

        assert [p.plant_id for p in await reader.plants_of_community(1, on=before)] == [7]
        assert await reader.plants_of_community(1, on=after) == []
        assert len(await reader.plants_of_community(2, between=(before, after))) == 0
        assert len(await reader.plants_of_community(1, between=(before, after))) == 1
        assert len(await reader.plants_of_community(2, between=(before, date(2025, 3, 2)))) == 1


async def test_plant_stays_of_a_community_with_the_plants_facts(
    maker: async_sessionmaker[AsyncSession],
) -> None:
    # Plant 7 in community 1 until 2025-03-01, then in 2, then back in 1 from
    # 2025-06-01 with another owner; plant 8 (another POD and substation) in 1.
    await _apply(
        maker,
        _plant(PlantLeft, 1, OWNER, valid_from=date(2024, 1, 1), valid_to=date(2025, 3, 1)),
        _plant(PlantLeft, 2, OWNER, valid_from=date(2025, 3, 1), valid_to=date(2025, 6, 1)),
        _plant(PlantRegistered, 1, NEW_OWNER, valid_from=date(2025, 6, 1), valid_to=None),
        _plant(
            PlantRegistered,
            1,
            OWNER,
            plant_id=8,
            pod="IT001E00000008",
            primary_substation="AC002",
            nominal_power_kw=Decimal("6.500"),
            valid_from=date(2024, 6, 1),
            valid_to=None,
        ),
    )
    facts = {
        "pod": "IT001E00000007",
        "primary_substation": "AC001",
        "market_zone": "CSUD",
        "nominal_power_kw": Decimal("20.000"),
        "technology": "PV",
        "entry_into_service": date(2023, 5, 1),
        "region": "Lazio",
        "capital_grant_eur_per_kw": Decimal("0.00"),
    }
    first = PlantStay(7, 1, OWNER, date(2024, 1, 1), date(2025, 3, 1), **facts)
    back = PlantStay(7, 1, NEW_OWNER, date(2025, 6, 1), None, **facts)
    other = {"pod": "IT001E00000008", "primary_substation": "AC002"}
    eight = PlantStay(
        8,
        1,
        OWNER,
        date(2024, 6, 1),
        None,
        **{**facts, **other, "nominal_power_kw": Decimal("6.5")},
    )
    async with maker() as session:
        reader = registry.reader(session)
        assert await reader.plant_stays(1, between=None) == [first, back, eight]
        # Half-open: a stay ending on the span's first day does not meet it.
        year = (date(2025, 1, 1), date(2026, 1, 1))
        assert await reader.plant_stays(1, between=year) == [first, back, eight]
        assert await reader.plant_stays(1, between=(date(2025, 3, 1), date(2025, 6, 1))) == [eight]
        assert await reader.plant_stays(1, between=(date(2023, 1, 1), date(2024, 1, 1))) == []
        assert [s.community_id for s in await reader.plant_stays(2, between=year)] == [2]
        assert await reader.plant_stays(1, between=year, owner_user_id=OWNER) == [first, eight]
        assert await reader.plant_stays(1, between=year, primary_substation="AC002") == [eight]
        assert await reader.plant_stays(1, between=year, pods=["IT001E00000007"]) == [
            first,
            back,
        ]
        assert await reader.plant_stays(1, between=year, pods=[]) == []
        assert await reader.plant_stays(3, between=None) == []
        # Every community's stays (the energy service's live tally loads them all).
        away = PlantStay(7, 2, OWNER, date(2025, 3, 1), date(2025, 6, 1), **facts)
        spring = (date(2025, 3, 1), date(2025, 6, 1))
        assert await reader.plant_stays(None, between=spring) == [away, eight]
        assert await reader.plant_stays(None, between=None) == [first, away, back, eight]
        assert first.active_on(date(2025, 2, 28)) and not first.active_on(date(2025, 3, 1))


async def test_memberships_and_communities_by_date(
    maker: async_sessionmaker[AsyncSession],
) -> None:
    shares = [
        SharesPeriod(
            valid_from=date(2024, 1, 1),
            producers_pct=Decimal("50"),
            consumers_pct=Decimal("40"),
            community_fund_pct=Decimal("10"),
        ),
        SharesPeriod(
            valid_from=date(2025, 1, 1),
            producers_pct=Decimal("60"),
            consumers_pct=Decimal("30"),
            community_fund_pct=Decimal("10"),
        ),
    ]
    facts = {
        "community_id": 5,
        "code": "CER-5",
        "name": "Borgo",
        "market_zone": "NORD",
        "is_active": True,
    }
    await _apply(
        maker,
        CommunityCreated(**facts, distribution_shares=shares[:1]),
        CommunityUpdated(**facts, distribution_shares=shares, changed=["distribution_shares"]),
        _membership(MembershipStarted, 11, 5, ADMIN_A, valid_from=date(2024, 1, 1), valid_to=None),
        _membership(
            MembershipEnded, 11, 5, ADMIN_A, valid_from=date(2024, 1, 1), valid_to=date(2024, 7, 1)
        ),
        _membership(MembershipStarted, 12, 5, ADMIN_B, valid_from=date(2024, 7, 1), valid_to=None),
    )
    async with maker() as session:
        reader = registry.reader(session)
        community = await reader.community(5)
        assert community is not None and community.name == "Borgo"
        assert await reader.shares_on(5, date(2023, 12, 31)) is None
        in_2024 = await reader.shares_on(5, date(2024, 12, 31))
        assert in_2024 is not None and in_2024.producers_pct == Decimal("50")
        in_2025 = await reader.shares_on(5, date(2025, 1, 1))
        assert in_2025 is not None and in_2025.producers_pct == Decimal("60")

        june, july = (date(2024, 6, 1), date(2024, 7, 1)), (date(2024, 7, 1), date(2024, 8, 1))
        assert [m.user_id for m in await reader.memberships_of_community(5, between=june)] == [
            ADMIN_A
        ]
        assert [m.user_id for m in await reader.memberships_of_community(5, between=july)] == [
            ADMIN_B
        ]
        spanning = await reader.memberships_of_community(5, between=(june[0], july[1]))
        assert [m.user_id for m in spanning] == [ADMIN_A, ADMIN_B]
        assert spanning[0].member_type == "PRIVATE"
        assert await reader.administered_communities(ADMIN_A, date(2024, 6, 30)) == [5]
        assert await reader.administered_communities(ADMIN_A, date(2024, 7, 1)) == []
        assert await reader.is_community_admin(ADMIN_B, 5, date(2024, 7, 1))
        assert [m.membership_id for m in await reader.memberships_of_user(ADMIN_A)] == [11]
        assert await reader.memberships_of_user(ADMIN_A, on=date(2024, 7, 1)) == []
