"""Who is told what: one entry per event type.

A :class:`Rule` names the kind it tells of, who the recipients are and the
facts the templates need. Adding a kind (a settlement approved, a payout
sent) is one entry in ``RULES`` and its words in messages.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cerc_shared.clock import italian_today
from cerc_shared.events import Event, EventEnvelope
from cerc_shared.events.cer import InvitationCreated, MembershipStarted
from cerc_shared.events.economic import (
    PayoutCreated,
    PayoutTransferFailed,
    PayoutTransferProcessed,
    ReconciliationMismatch,
    SettlementApproved,
    SettlementComputed,
)
from cerc_shared.events.iot import DeviceStatusChanged
from cerc_shared.events.user import AccountSecurityChanged, UserUpdated
from cerc_shared.readmodels import RegistryReader


@dataclass(frozen=True)
class Context:
    """What a rule may look at: the event's envelope, the registry, the settings' figures."""

    envelope: EventEnvelope
    registry: RegistryReader
    now: datetime
    device_offline_threshold: timedelta
    # Records that ``user_id`` signed in from ``address``; answers (had they
    # signed in before at all, was this address new to them).
    sign_in_from: Callable[[int, str], Awaitable[tuple[bool, bool]]]
    # A community's own threshold for silent meters (None: the service's default).
    offline_threshold_of: Callable[[int], Awaitable[timedelta | None]]


@dataclass(frozen=True)
class Decision:
    """Tell ``recipients`` of ``kind`` with ``params``, not before ``due_at``.
    ``subject`` groups notices about one thing (a device) so a later event can
    withdraw those not yet due. ``per_recipient`` adds facts of one person's
    own (what each member earned); ``address`` is a mail to someone with no
    account here (an invitation), with no inbox."""

    kind: str
    recipients: list[int]
    params: dict[str, Any]
    due_at: datetime | None = None
    subject: str | None = None
    per_recipient: dict[int, dict[str, Any]] = field(default_factory=dict)
    address: str | None = None


# A rule tells of one kind, or of several (a payout: those paid, those left out).
Rule = Callable[[Context, Any], Awaitable[Decision | list[Decision] | None]]


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


_SECURITY_KINDS = {
    "password_changed": "security.password_changed",
    "two_factor_enabled": "security.two_factor_enabled",
    "two_factor_disabled": "security.two_factor_disabled",
}


async def _account_security(ctx: Context, event: AccountSecurityChanged) -> Decision | None:
    params: dict[str, Any] = {"occurred_at": ctx.envelope.occurred_at.isoformat()}
    if event.change != "session_started":
        return Decision(_SECURITY_KINDS[event.change], [event.user_id], params)
    if event.address is None:
        return None
    signed_in_before, new_address = await ctx.sign_in_from(event.user_id, event.address)
    # Every sign-in is an event; a person is told only of one from a place
    # they never signed in from (their very first sign-in is no news).
    if not (signed_in_before and new_address):
        return None
    return Decision(
        "security.new_session",
        [event.user_id],
        {**params, "address": event.address, "user_agent": event.user_agent or "?"},
    )


async def _invitation(ctx: Context, event: InvitationCreated) -> Decision | None:
    return Decision(
        "invitation.received",
        [],
        {
            "community_name": event.community_name,
            "role": event.role,
            "expires_at": event.expires_at.isoformat(),
            "accept_path": event.accept_path,
        },
        address=event.email,
    )


async def community_admins(ctx: Context, community_id: int) -> list[int]:
    today = italian_today(ctx.now)
    return sorted(
        {
            m.user_id
            for m in await ctx.registry.memberships_of_community(community_id, on=today)
            if m.role == "ADMIN"
        }
    )


async def _community_name(ctx: Context, community_id: int) -> str:
    community = await ctx.registry.community(community_id)
    return community.name if community else f"#{community_id}"


def _euros(cents: int) -> str:
    """Cents as a decimal string of euros: the templates' ``euro`` filter keeps every cent."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


async def _settlement_computed(ctx: Context, event: SettlementComputed) -> Decision | None:
    params: dict[str, Any] = {
        "community_id": event.community_id,
        "community_name": await _community_name(ctx, event.community_id),
        "period": event.period,
        "run_kind": event.kind,
        "run_id": event.run_id,
    }
    if event.status == "FAILED":
        # Official data still missing is the common case before the 15th: said plainly.
        params["official_data_missing"] = "official_data_incomplete" in event.error_codes
        params["error_codes"] = ", ".join(event.error_codes) or "?"
        kind = "settlement.failed"
    elif event.kind == "PROVISIONAL":
        # A PROVISIONAL run is what an administrator approves into the FINAL one.
        params["total_eur"] = _euros(event.total_cents or 0)
        params["community_eur"] = _euros(event.community_cents or 0)
        kind = "settlement.awaiting_approval"
    else:
        return None
    return Decision(
        kind,
        await community_admins(ctx, event.community_id),
        params,
        subject=f"settlement:{event.community_id}:{event.period}",
    )


async def _settlement_approved(ctx: Context, event: SettlementApproved) -> Decision | None:
    mine = {
        m.user_id: {
            "amount_eur": _euros(m.as_producer_cents + m.as_consumer_cents),
            "producer_eur": _euros(m.as_producer_cents),
            "consumer_eur": _euros(m.as_consumer_cents),
        }
        for m in event.members
    }
    return Decision(
        "settlement.approved",
        sorted(mine),
        {
            "community_id": event.community_id,
            "community_name": await _community_name(ctx, event.community_id),
            "period": event.period,
            "run_id": event.run_id,
        },
        per_recipient=mine,
    )


async def _payout_created(ctx: Context, event: PayoutCreated) -> list[Decision]:
    common: dict[str, Any] = {
        "community_id": event.community_id,
        "community_name": await _community_name(ctx, event.community_id),
        "payout_id": event.payout_id,
    }
    sent = {t.user_id: {"amount_eur": _euros(t.amount_cents)} for t in event.transfers}
    left = {
        m.user_id: {"amount_eur": _euros(m.amount_cents), "reason": m.reason}
        for m in event.left_out
    }
    decisions = []
    if sent:
        decisions.append(Decision("payout.sent", sorted(sent), common, per_recipient=sent))
    if left:
        decisions.append(Decision("payout.left_out", sorted(left), common, per_recipient=left))
    return decisions


async def _transfer_processed(ctx: Context, event: PayoutTransferProcessed) -> Decision | None:
    return Decision(
        "payout.paid",
        [event.user_id],
        {
            "community_id": event.community_id,
            "community_name": await _community_name(ctx, event.community_id),
            "amount_eur": _euros(event.amount_cents),
        },
    )


async def _transfer_failed(ctx: Context, event: PayoutTransferFailed) -> Decision | None:
    # The member, and the admins who must fix the IBAN or pay again.
    admins = await community_admins(ctx, event.community_id)
    return Decision(
        "payout.failed",
        sorted({event.user_id, *admins}),
        {
            "community_id": event.community_id,
            "community_name": await _community_name(ctx, event.community_id),
            "amount_eur": _euros(event.amount_cents),
            "reason": event.reason,
            "payee_id": event.user_id,
        },
    )


async def _reconciliation_mismatch(ctx: Context, event: ReconciliationMismatch) -> Decision | None:
    causes = [
        f"{c.cause}{' ' + c.pod if c.pod else ''}: {_euros(c.difference_cents)} €"
        for c in event.causes
    ]
    return Decision(
        "reconciliation.mismatch",
        await community_admins(ctx, event.community_id),
        {
            "community_id": event.community_id,
            "community_name": await _community_name(ctx, event.community_id),
            "period": event.period,
            "difference_eur": _euros(event.difference_cents),
            "tolerance_eur": _euros(event.tolerance_cents),
            "causes": "; ".join(causes) or "?",
        },
        subject=f"reconciliation:{event.community_id}:{event.period}",
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


async def plant_audience(ctx: Context, plant_id: int) -> tuple[list[int], str, int | None]:
    """A plant's owner and the administrators of its community today; its
    name; its community."""
    plant = await ctx.registry.plant(plant_id)
    if plant is None:
        return [], f"#{plant_id}", None
    today = italian_today(ctx.now)
    period = await ctx.registry.period_of_plant(plant_id, today)
    community_id = period.community_id if period else plant.community_id
    owner = period.owner_user_id if period else plant.owner_user_id
    admins = {
        m.user_id
        for m in await ctx.registry.memberships_of_community(community_id, on=today)
        if m.role == "ADMIN"
    }
    return sorted({owner, *admins}), plant.name or f"#{plant_id}", community_id


async def _device_status(ctx: Context, event: DeviceStatusChanged) -> Decision | None:
    since = (event.last_seen or ctx.envelope.occurred_at).isoformat()
    if event.status == "OFFLINE" and event.previous != "OFFLINE":
        recipients, plant_name, community_id = await plant_audience(ctx, event.plant_id)
        threshold = ctx.device_offline_threshold
        if community_id is not None:
            threshold = await ctx.offline_threshold_of(community_id) or threshold
        # Told only if it stays offline past the community's threshold:
        # withdrawn (service.py) if the device is back before.
        due = (event.last_seen or ctx.envelope.occurred_at) + threshold
        return Decision(
            "device.offline",
            recipients,
            {"device_id": event.device_id, "plant_name": plant_name, "since": since},
            due_at=due,
            subject=event.device_id,
        )
    if event.status == "ONLINE" and event.previous in ("OFFLINE", "ERROR"):
        # The recipients are those who were told it went offline (service.py).
        _, plant_name, _ = await plant_audience(ctx, event.plant_id)
        return Decision(
            "device.online",
            [],
            {"device_id": event.device_id, "plant_name": plant_name, "since": since},
            subject=event.device_id,
        )
    return None


RULES: dict[str, Rule] = {
    "user.updated": _email_changed,
    "user.security_changed": _account_security,
    "invitation.created": _invitation,
    "settlement.computed": _settlement_computed,
    "settlement.approved": _settlement_approved,
    "payout.created": _payout_created,
    "payout.transfer_processed": _transfer_processed,
    "payout.transfer_failed": _transfer_failed,
    "reconciliation.mismatch": _reconciliation_mismatch,
    "membership.started": _membership_started,
    "device.status_changed": _device_status,
}

# Rules whose decision answers an earlier kind about the same subject: the
# earlier one's pending notices are withdrawn, and only those who were told
# it hear the answer.
ANSWERS: dict[str, str] = {"device.online": "device.offline"}

TOPICS: tuple[str, ...] = (
    "user.v1",
    "cer.v1",
    "membership.v1",
    "plant.v1",
    "device.v1",
    "invitation.v1",
    "settlement.v1",
    "payout.v1",
    "reconciliation.v1",
)


def rule_for(event: Event) -> Rule | None:
    return RULES.get(event.type)
