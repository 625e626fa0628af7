"""What the CER service publishes (through the outbox) and how it reacts to user.v1."""

from __future__ import annotations

from datetime import date

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
    SharesPeriod,
)
from cerc_shared.events.user import UserRegistered, UserUpdated
from cerc_shared.outbox import record
from sqlalchemy.ext.asyncio import AsyncSession

from cer_service.models import Community, Membership, Plant, outbox
from cer_service.repository import SharesRepository, UserRepository

PRODUCER = "cer"

CommunityEvent = type[CommunityCreated] | type[CommunityUpdated] | type[CommunityDeactivated]
MembershipEvent = (
    type[MembershipStarted]
    | type[MembershipUpdated]
    | type[MembershipEnded]
    | type[MembershipErased]
)
PlantEvent = type[PlantRegistered] | type[PlantUpdated] | type[PlantLeft]


async def publish_community(
    session: AsyncSession,
    community: Community,
    event: CommunityEvent,
    changed: list[str] | None = None,
) -> None:
    history = await SharesRepository(session).history(community.id)
    facts = {
        "community_id": community.id,
        "code": community.code,
        "name": community.name,
        "market_zone": community.market_zone,
        "is_active": community.is_active,
        "distribution_shares": [
            SharesPeriod(
                valid_from=s.valid_from,
                producers_pct=s.producers_pct,
                consumers_pct=s.consumers_pct,
                community_fund_pct=s.community_fund_pct,
            )
            for s in history
        ],
    }
    if event is CommunityUpdated:
        await record(
            session, outbox, CommunityUpdated(**facts, changed=changed or []), producer=PRODUCER
        )
    else:
        await record(session, outbox, event(**facts), producer=PRODUCER)


async def publish_membership(
    session: AsyncSession, m: Membership, event: MembershipEvent, changed: list[str] | None = None
) -> None:
    facts = {
        "membership_id": m.id,
        "community_id": m.community_id,
        "user_id": m.user_id,
        "role": m.role,
        "member_type": m.member_type,
        "body_type": m.body_type,
        "valid_from": m.valid_from,
        "valid_to": m.valid_to,
    }
    if event is MembershipUpdated:
        await record(
            session, outbox, MembershipUpdated(**facts, changed=changed or []), producer=PRODUCER
        )
    else:
        await record(session, outbox, event(**facts), producer=PRODUCER)


async def publish_plant(
    session: AsyncSession,
    plant: Plant,
    community_id: int,
    period: tuple[date, date | None],
    event: PlantEvent,
    changed: list[str] | None = None,
) -> None:
    facts = {
        "plant_id": plant.id,
        "pod": plant.pod,
        "name": plant.name,
        "community_id": community_id,
        "owner_user_id": plant.owner_user_id,
        "plant_type": plant.plant_type,
        "nominal_power_kw": plant.nominal_power_kw,
        "technology": plant.technology,
        "entry_into_service": plant.entry_into_service,
        "region": plant.region,
        "primary_substation": plant.primary_substation,
        "market_zone": plant.market_zone,
        "capital_grant_eur_per_kw": plant.capital_grant_eur_per_kw,
        "connection_voltage": plant.connection_voltage,
        "valid_from": period[0],
        "valid_to": period[1],
    }
    if event is PlantUpdated:
        await record(
            session, outbox, PlantUpdated(**facts, changed=changed or []), producer=PRODUCER
        )
    else:
        await record(session, outbox, event(**facts), producer=PRODUCER)


async def on_user_event(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Keep the local read model of users (user.v1); other event types are not ours."""
    data = envelope.data
    if not isinstance(data, UserRegistered | UserUpdated):
        return
    await UserRepository(session).upsert(
        {
            "id": data.user_id,
            "username": data.username,
            "email": data.email.lower(),
            "first_name": data.first_name,
            "last_name": data.last_name,
            "user_type": data.user_type,
            "is_active": data.is_active,
        }
    )
