"""How the energy service reacts to plant.v1 and membership.v1: it keeps the
read models authorisation is decided from. Run by the shared
``IdempotentConsumer``, so each event acts once.

Readings (measurement.v1) are ingested by ``energy_service.ingest``; the only
event this service publishes is ``MeasurementsAccepted`` for readings posted
over HTTP (see ``service.accept_readings``).
"""

from __future__ import annotations

from cerc_shared.events import EventEnvelope
from cerc_shared.events.cer import (
    MembershipEnded,
    MembershipErased,
    MembershipStarted,
    MembershipUpdated,
    PlantLeft,
    PlantRegistered,
    PlantUpdated,
)
from sqlalchemy.ext.asyncio import AsyncSession

from energy_service.repository import ReadModelRepository

PRODUCER = "energy"
READ_MODEL_TOPICS = (PlantRegistered.topic, MembershipStarted.topic)


async def handle_read_model_event(session: AsyncSession, envelope: EventEnvelope) -> None:
    event = envelope.data
    repo = ReadModelRepository(session)
    if isinstance(event, PlantRegistered | PlantUpdated | PlantLeft):
        # PlantLeft carries the closed period (valid_to); the plant stays known
        # so its owner keeps seeing its history.
        await repo.upsert_plant(
            plant_id=event.plant_id,
            pod=event.pod,
            community_id=event.community_id,
            owner_user_id=event.owner_user_id,
            primary_substation=event.primary_substation,
            market_zone=event.market_zone,
            valid_from=event.valid_from,
            valid_to=event.valid_to,
        )
    elif isinstance(
        event, MembershipStarted | MembershipUpdated | MembershipEnded | MembershipErased
    ):
        # No personal data is kept here, so an erasure only updates the period.
        await repo.upsert_membership(
            membership_id=event.membership_id,
            community_id=event.community_id,
            user_id=event.user_id,
            role=event.role,
            valid_from=event.valid_from,
            valid_to=event.valid_to,
        )
