"""How the energy service reacts to plant.v1, membership.v1 and cer.v1: it keeps the
read models authorisation is decided from. Run by the shared
``IdempotentConsumer``, so each event acts once.

Readings (measurement.v1) are ingested by ``energy_service.ingest``; the only
event this service publishes is ``MeasurementsAccepted`` for readings posted
over HTTP (see ``service.accept_readings``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import sqlalchemy.event
from cerc_shared.events import EventEnvelope
from cerc_shared.events.economic import SettlementApproved
from sqlalchemy.ext.asyncio import AsyncSession

from energy_service.models import registry
from energy_service.repository import SettledMonthRepository
from energy_service.scope_cache import ScopeCache

PRODUCER = "energy"


async def handle_read_model_event(session: AsyncSession, envelope: EventEnvelope) -> None:
    """The kernel's registry read model (plants, their stays, memberships), and
    the months a FINAL settlement closed (settlement.approved), into which no
    manual or official reading goes."""
    event = envelope.data
    if isinstance(event, SettlementApproved):
        year, month = event.period.split("-")
        await SettledMonthRepository(session).add(
            event.community_id, date(int(year), int(month), 1), event.run_id
        )
        return
    await registry.apply(session, envelope)


def read_model_handler(
    scopes: ScopeCache[Any],
) -> Callable[[AsyncSession, EventEnvelope], Awaitable[None]]:
    """The handler, forgetting the reading scopes this process keeps once the registry moved."""

    async def apply_and_forget(session: AsyncSession, envelope: EventEnvelope) -> None:
        await handle_read_model_event(session, envelope)
        scopes.forget()
        # Once more at commit: a request that read the registry before the commit (still the
        # old one) under the generation just begun must not keep what it read.
        sqlalchemy.event.listen(
            session.sync_session, "after_commit", lambda _: scopes.forget(), once=True
        )

    return apply_and_forget


READ_MODEL_TOPICS = (*registry.topics, SettlementApproved.topic)
