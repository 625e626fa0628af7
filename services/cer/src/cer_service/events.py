"""What the CER service publishes (built here, recorded to the outbox with the
change that causes it: service/changes.py) and how it reacts to user.v1."""

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
from sqlalchemy.ext.asyncio import AsyncSession

from cer_service.models import Community, Membership, Plant
from cer_service.repository import SharesRepository, UserRepository
from cer_service.schemas import PLANT_FIELDS

PRODUCER = "cer"

CommunityEvent = type[CommunityCreated] | type[CommunityUpdated] | type[CommunityDeactivated]
MembershipEvent = (
    type[MembershipStarted]
    | type[MembershipUpdated]
    | type[MembershipEnded]
    | type[MembershipErased]
)
PlantEvent = type[PlantRegistered] | type[PlantUpdated] | type[PlantLeft]


async def community_event(
    session: AsyncSession,
    community: Community,
    event: CommunityEvent,
    changed: list[str] | None = None,
) -> CommunityCreated | CommunityUpdated | CommunityDeactivated:
    history = await SharesRepository(session).history(community.id)
    facts = {
        "community_id": community.id,
        "code": community.code,
        "name": community.name,
        "market_zone": community.market_zone,
        "is_active": community.is_active,
        "device_offline_threshold_min": community.device_offline_threshold_min,
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
        return CommunityUpdated(**facts, changed=changed or [])
    return event(**facts)


def membership_event(
    m: Membership, event: MembershipEvent, changed: list[str] | None = None
) -> MembershipStarted | MembershipUpdated | MembershipEnded | MembershipErased:
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
        return MembershipUpdated(**facts, changed=changed or [])
    return event(**facts)


# The plant's facts the plant.v1 events carry (the catalogue decides which);
# the community is the period's, not the row's.
PLANT_EVENT_FIELDS = tuple(
    name for name in PLANT_FIELDS if name in PlantRegistered.model_fields and name != "community_id"
)


def plant_event(
    plant: Plant,
    community_id: int,
    period: tuple[date, date | None],
    event: PlantEvent,
    changed: list[str] | None = None,
) -> PlantRegistered | PlantUpdated | PlantLeft:
    facts = {name: getattr(plant, name) for name in PLANT_EVENT_FIELDS}
    facts.update(
        plant_id=plant.id, community_id=community_id, valid_from=period[0], valid_to=period[1]
    )
    if event is PlantUpdated:
        return PlantUpdated(**facts, changed=changed or [])
    return event(**facts)


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
