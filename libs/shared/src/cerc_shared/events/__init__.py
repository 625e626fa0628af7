"""The event catalogue and its envelope.

Per-service event modules: ``user``, ``cer``, ``iot``, ``economic``; add yours beside
them and to ``AnyEvent``.

Events are Pydantic models with a ``type`` literal and a ``version``; the
union of all of them is discriminated on ``type``. Each event names its topic
(one per aggregate, e.g. ``user.v1``) and its key (the aggregate id) so order
holds per entity. The catalogue is exported as an AsyncAPI document and
checked in ``tests/contract``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from cerc_shared.events.base import Event
from cerc_shared.events.cer import (
    CER_EVENTS,
    CommunityCreated,
    CommunityDeactivated,
    CommunityUpdated,
    InvitationCreated,
    MembershipEnded,
    MembershipErased,
    MembershipStarted,
    MembershipUpdated,
    PlantLeft,
    PlantRegistered,
    PlantUpdated,
)
from cerc_shared.events.economic import (
    ECONOMIC_EVENTS,
    PayoutCreated,
    PayoutTransferFailed,
    PayoutTransferProcessed,
    ReconciliationMismatch,
    SettlementApproved,
    SettlementComputed,
    TransactionCreated,
    TransactionSettled,
)
from cerc_shared.events.iot import (
    DeviceRegistered,
    DeviceRevoked,
    DeviceStatusChanged,
    MeasurementsAccepted,
)
from cerc_shared.events.user import (
    AccountSecurityChanged,
    UserRegistered,
    UserStatusChanged,
    UserUpdated,
)

# Each producing service keeps its events in its own module here; the union
# below is the one list of everything that may travel on Kafka.
AnyEvent = Annotated[
    UserRegistered
    | UserUpdated
    | AccountSecurityChanged
    | UserStatusChanged
    | CommunityCreated
    | CommunityUpdated
    | CommunityDeactivated
    | MembershipStarted
    | MembershipUpdated
    | MembershipEnded
    | MembershipErased
    | PlantRegistered
    | PlantUpdated
    | PlantLeft
    | InvitationCreated
    | DeviceRegistered
    | DeviceRevoked
    | DeviceStatusChanged
    | MeasurementsAccepted
    | SettlementComputed
    | SettlementApproved
    | TransactionCreated
    | TransactionSettled
    | PayoutCreated
    | PayoutTransferProcessed
    | PayoutTransferFailed
    | ReconciliationMismatch,
    Field(discriminator="type"),
]

CATALOGUE: tuple[type[Event], ...] = (
    UserRegistered,
    UserUpdated,
    AccountSecurityChanged,
    UserStatusChanged,
    *CER_EVENTS,
    DeviceRegistered,
    DeviceRevoked,
    DeviceStatusChanged,
    MeasurementsAccepted,
    *ECONOMIC_EVENTS,
)

__all__ = ["CATALOGUE", "TOPICS", "AnyEvent", "Event", "EventEnvelope", "asyncapi_document"]
TOPICS: tuple[str, ...] = tuple(sorted({e.topic for e in CATALOGUE}))


class EventEnvelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    type: str
    version: int
    occurred_at: datetime
    producer: str
    correlation_id: str | None = None
    key: str
    data: AnyEvent

    @classmethod
    def wrap(cls, event: Event, *, producer: str, correlation_id: str | None) -> EventEnvelope:
        return cls(
            id=uuid.uuid4(),
            type=event.type,
            version=event.version,
            occurred_at=datetime.now(UTC),
            producer=producer,
            correlation_id=correlation_id,
            key=event.key(),
            data=event,
        )

    @property
    def topic(self) -> str:
        return type(self.data).topic


envelope_adapter: TypeAdapter[EventEnvelope] = TypeAdapter(EventEnvelope)


def asyncapi_document() -> dict[str, Any]:
    """The catalogue as an AsyncAPI 3 document: one channel per topic, one message per type."""
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event in CATALOGUE:
        name = event.model_fields["type"].default
        messages[name] = {
            "name": name,
            "title": event.__name__,
            "payload": event.model_json_schema(),
            "headers": {"type": "object", "properties": {"correlation_id": {"type": "string"}}},
        }
        channel = channels.setdefault(event.topic, {"address": event.topic, "messages": {}})
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "CerCollettiva events", "version": "1.0.0"},
        "channels": channels,
        "components": {
            "messages": messages,
            "schemas": {"EventEnvelope": EventEnvelope.model_json_schema()},
        },
    }


def main() -> None:
    """`python -m cerc_shared.events > docs/asyncapi.json` regenerates the committed document."""
    import json
    import sys

    sys.stdout.write(json.dumps(asyncapi_document(), indent=2, sort_keys=True) + "\n")
