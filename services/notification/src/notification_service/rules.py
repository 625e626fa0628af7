"""Who is told what: one entry per event type.

A :class:`Rule` names the kind it tells of, who the recipients are and the
facts the templates need. Adding a kind (a settlement approved, a payout
sent) is one entry in ``RULES`` and its words in messages.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cerc_shared.clock import italian_today
from cerc_shared.events import Event, EventEnvelope
from cerc_shared.events.cer import MembershipStarted
from cerc_shared.events.iot import DeviceStatusChanged
from cerc_shared.events.user import UserUpdated
from cerc_shared.readmodels import RegistryReader


@dataclass(frozen=True)
class Context:
    """What a rule may look at: the event's envelope, the registry, the settings' figures."""

    envelope: EventEnvelope
    registry: RegistryReader
    now: datetime
    device_offline_threshold: timedelta


@dataclass(frozen=True)
class Decision:
    """Tell ``recipients`` of ``kind`` with ``params``, not before ``due_at``.
    ``subject`` groups notices about one thing (a device) so a later event can
    withdraw those not yet due."""

    kind: str
    recipients: list[int]
    params: dict[str, Any]
    due_at: datetime | None = None
    subject: str | None = None


Rule = Callable[[Context, Any], Awaitable[Decision | None]]


async def _email_changed(ctx: Context, event: UserUpdated) -> Decision | None:
    if "email" not in event.changed:
        return None
    # Told at the address we knew (the notification keeps it): that is where
    # the owner learns someone else changed it.
    return Decision(
        "security.email_changed",
        [event.user_id],
        {"new_email": event.email, "occurred_at": ctx.envelope.occurred_at.isoformat()},
    )


async def _membership_started(ctx: Context, event: MembershipStarted) -> Decision | None:
    community = await ctx.registry.community(event.community_id)
    return Decision(
        "membership.started",
        [event.user_id],
        {
            "community_id": event.community_id,
            "community_name": community.name if community else f"#{event.community_id}",
            "role": event.role,
            "valid_from": event.valid_from.isoformat(),
        },
    )


async def plant_audience(ctx: Context, plant_id: int) -> tuple[list[int], str]:
    """A plant's owner and the administrators of its community today; its name."""
    plant = await ctx.registry.plant(plant_id)
    if plant is None:
        return [], f"#{plant_id}"
    today = italian_today(ctx.now)
    period = await ctx.registry.period_of_plant(plant_id, today)
    community_id = period.community_id if period else plant.community_id
    owner = period.owner_user_id if period else plant.owner_user_id
    admins = {
        m.user_id
        for m in await ctx.registry.memberships_of_community(community_id, on=today)
        if m.role == "ADMIN"
    }
    return sorted({owner, *admins}), plant.name or f"#{plant_id}"


async def _device_status(ctx: Context, event: DeviceStatusChanged) -> Decision | None:
    since = (event.last_seen or ctx.envelope.occurred_at).isoformat()
    if event.status == "OFFLINE" and event.previous != "OFFLINE":
        recipients, plant_name = await plant_audience(ctx, event.plant_id)
        # Told only if it stays offline: due after the threshold, withdrawn
        # (service.py) if the device is back before.
        due = (event.last_seen or ctx.envelope.occurred_at) + ctx.device_offline_threshold
        return Decision(
            "device.offline",
            recipients,
            {"device_id": event.device_id, "plant_name": plant_name, "since": since},
            due_at=due,
            subject=event.device_id,
        )
    if event.status == "ONLINE" and event.previous in ("OFFLINE", "ERROR"):
        # The recipients are those who were told it went offline (service.py).
        _, plant_name = await plant_audience(ctx, event.plant_id)
        return Decision(
            "device.online",
            [],
            {"device_id": event.device_id, "plant_name": plant_name, "since": since},
            subject=event.device_id,
        )
    return None


RULES: dict[str, Rule] = {
    "user.updated": _email_changed,
    "membership.started": _membership_started,
    "device.status_changed": _device_status,
}

# Rules whose decision answers an earlier kind about the same subject: the
# earlier one's pending notices are withdrawn, and only those who were told
# it hear the answer.
ANSWERS: dict[str, str] = {"device.online": "device.offline"}

TOPICS: tuple[str, ...] = ("user.v1", "cer.v1", "membership.v1", "plant.v1", "device.v1")


def rule_for(event: Event) -> Rule | None:
    return RULES.get(event.type)
