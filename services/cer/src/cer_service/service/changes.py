"""A change as one step: snapshot before, the change, flush, its audit entry,
its events into the outbox.

Every write of the service goes through :class:`Changes` (a unit of work over
the request's session): the audit trail and the events cannot drift apart, and
an event is never recorded for a change the trail does not hold. It flushes,
never commits: the request's session decides (see cerc_shared.db)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cerc_shared.auth import Principal
from cerc_shared.events import Event
from cerc_shared.logging import get_correlation_id
from cerc_shared.outbox import record
from sqlalchemy.ext.asyncio import AsyncSession

from cer_service.events import PRODUCER
from cer_service.models import (
    AuditEntry,
    Community,
    DistributionShares,
    Invitation,
    Membership,
    Plant,
    outbox,
)
from cer_service.repository import AuditRepository
from cer_service.schemas import PLANT_FIELDS

PERSONAL_FIELDS = ("tax_code", "vat_number", "iban")
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
SHARES_FIELDS = ("valid_from", "producers_pct", "consumers_pct", "community_fund_pct")

# The address is not kept: the append-only trail could never give it back on erasure.
INVITATION_FIELDS = (
    "role",
    "member_type",
    "body_type",
    "joined_on",
    "status",
    "expires_at",
    "membership_id",
)

Audited = Community | Membership | Plant | DistributionShares | Invitation


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {f: _jsonable(getattr(obj, f)) for f in fields}


def _membership_snapshot(m: Membership) -> dict[str, Any]:
    # Personal data never enters the append-only trail, not even masked: an
    # erasure could not take it back out.
    snap = _snapshot(m, ("user_id", "role", "member_type", "body_type", "valid_from", "valid_to"))
    for name in PERSONAL_FIELDS:
        snap[name] = "<sealed>" if getattr(m, f"{name}_sealed") else None
    return snap


def snapshot(entity: Audited) -> dict[str, Any]:
    """What the audit trail keeps of an entity."""
    if isinstance(entity, Community):
        return _snapshot(entity, COMMUNITY_FIELDS)
    if isinstance(entity, Plant):
        return _snapshot(entity, PLANT_FIELDS)
    if isinstance(entity, DistributionShares):
        return _snapshot(entity, SHARES_FIELDS)
    if isinstance(entity, Invitation):
        return _snapshot(entity, INVITATION_FIELDS)
    return _membership_snapshot(entity)


ENTITY_TYPES: dict[type[Audited], str] = {
    Community: "community",
    Membership: "membership",
    Plant: "plant",
    DistributionShares: "distribution_shares",
    Invitation: "invitation",
}


@dataclass
class Change:
    """What the body of :meth:`Changes.change` adds: the events the change
    causes (recorded in this order) and facts beside the entity's snapshot in
    the trail's ``after`` (e.g. the period a plant entered)."""

    events: list[Event] = field(default_factory=list)
    after: dict[str, Any] = field(default_factory=dict)

    def publish(self, event: Event) -> None:
        self.events.append(event)


class Changes:
    """The audited changes one caller makes through one session."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.actor = principal.user_id

    @asynccontextmanager
    async def change(
        self, entity: Audited, action: str, *, community_id: int
    ) -> AsyncIterator[Change]:
        """``async with changes.change(plant, "plant.updated", ...) as change:``
        change ``entity`` in the body; on leaving, the whole step is recorded
        (nothing is if the body raises)."""
        before = snapshot(entity)
        change = Change()
        yield change
        await self.record(
            entity,
            action,
            community_id=community_id,
            before=before,
            after=change.after,
            events=change.events,
        )

    async def record(
        self,
        entity: Audited,
        action: str,
        *,
        community_id: int,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None = None,
        events: Iterable[Event] = (),
    ) -> None:
        """The step for a change already made to ``entity`` (``before``: its
        snapshot before, None for a new one): flush, audit, publish."""
        await self.session.flush()
        await AuditRepository(self.session).add(
            AuditEntry(
                community_id=community_id,
                actor_user_id=self.actor,
                action=action,
                entity_type=ENTITY_TYPES[type(entity)],
                entity_id=entity.id,
                before=before,
                after={**snapshot(entity), **(after or {})},
                correlation_id=get_correlation_id(),
            )
        )
        for event in events:
            await record(self.session, outbox, event, producer=PRODUCER)
