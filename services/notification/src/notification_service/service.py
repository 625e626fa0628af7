"""Deciding, recording and showing notifications.

:func:`handle_event` is the consumer's handler: it folds the event into the
read models, asks the event's rule who is told what, and records one
notification per (event, recipient, channel) in the consumer's transaction,
so a redelivered event adds nothing (the processed-events row and the unique
key both say so). Mails are sent later by the delivery worker (delivery.py).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from cerc_shared.auth import Principal
from cerc_shared.clock import ITALY, italian_now
from cerc_shared.envelope import ApiError, NotFound
from cerc_shared.events import EventEnvelope
from cerc_shared.events.cer import CommunityCreated, CommunityUpdated
from cerc_shared.events.user import UserRegistered, UserUpdated
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service.kinds import KINDS
from notification_service.models import CHANNELS, registry
from notification_service.repository import NotificationRepository
from notification_service.rules import ANSWERS, Context, Decision, rule_for


async def handle_event(
    session: AsyncSession,
    envelope: EventEnvelope,
    *,
    device_offline_threshold: timedelta,
    digest_after: int,
) -> None:
    event = envelope.data
    repo = NotificationRepository(session)
    now = italian_now()
    await registry.apply(session, envelope)
    rule = rule_for(event)
    decisions: list[Decision] = []
    if rule is not None:
        context = Context(
            envelope,
            registry.reader(session),
            now,
            device_offline_threshold,
            sign_in_from=lambda user_id, address: repo.sign_in_from(user_id, address, now),
            offline_threshold_of=repo.offline_threshold,
        )
        decided = await rule(context, event)
        decisions = decided if isinstance(decided, list) else [decided] if decided else []
    for decision in decisions:
        await _record(repo, envelope, decision, now, digest_after)
    if isinstance(event, CommunityCreated | CommunityUpdated):
        await repo.save_offline_threshold(event.community_id, event.device_offline_threshold_min)
    # After the notifications: a changed address is told at the old one.
    if isinstance(event, UserRegistered | UserUpdated):
        await repo.save_user(
            event.user_id, event.email, event.first_name, event.is_active, event.language
        )


async def _record(
    repo: NotificationRepository,
    envelope: EventEnvelope,
    decision: Decision,
    now: datetime,
    digest_after: int,
) -> None:
    """One notification per recipient and channel, in the state the person's
    preferences and the day's count put it in."""
    kind = KINDS[decision.kind]
    if decision.address is not None:
        # Someone with no account here: one mail, no inbox, in Italian (the
        # platform's language) since we know nothing of their preference.
        await repo.add(
            event_id=envelope.id,
            user_id=None,
            channel="email",
            kind=kind.name,
            params=decision.params,
            address=decision.address,
            language="it",
            state="pending",
            due_at=decision.due_at or now,
            subject=decision.subject,
        )
        return
    recipients = decision.recipients
    if decision.kind in ANSWERS and decision.subject is not None:
        await repo.cancel_pending(ANSWERS[decision.kind], decision.subject, now)
        recipients = await repo.told_since_last(
            ANSWERS[decision.kind], decision.kind, decision.subject, now
        )
    start_of_day = datetime.combine(now.date(), time(0), tzinfo=ITALY)
    for user_id in recipients:
        person = await repo.recipient(user_id)
        choices = await repo.preferences_of(user_id)
        params: dict[str, Any] = {
            **decision.params,
            **decision.per_recipient.get(user_id, {}),
            "first_name": person.first_name,
        }
        for channel in CHANNELS:
            if channel == "email" and person.email is None:
                continue
            state = "pending"
            if kind.optional and not choices.get((kind.name, channel), True):
                state = "suppressed"
            elif (
                channel == "email"
                and kind.noisy
                and digest_after > 0
                and await repo.mails_of_kind_since(user_id, kind.name, start_of_day) >= digest_after
            ):
                state = "digest"
            await repo.add(
                event_id=envelope.id,
                user_id=user_id,
                channel=channel,
                kind=kind.name,
                params=params,
                address=person.email if channel == "email" else None,
                language=person.language,
                state=state,
                due_at=decision.due_at or now,
                subject=decision.subject,
            )


# ---------------------------------------------------------------- the API


def notification_out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "params": row.params,
        "created_at": row.due_at,
        "read_at": row.read_at,
    }


async def inbox(
    session: AsyncSession, principal: Principal, *, unread_only: bool, page: int, per_page: int
) -> tuple[list[dict[str, Any]], int]:
    rows, total = await NotificationRepository(session).inbox(
        principal.user_id, italian_now(), unread_only=unread_only, page=page, per_page=per_page
    )
    return [notification_out(r) for r in rows], total


async def unread_count(session: AsyncSession, principal: Principal) -> int:
    return await NotificationRepository(session).unread_count(principal.user_id, italian_now())


async def mark_read(
    session: AsyncSession, principal: Principal, notification_id: int
) -> dict[str, Any]:
    row = await NotificationRepository(session).mark_read(
        principal.user_id, notification_id, italian_now()
    )
    if row is None:
        # Someone else's notification is as absent as one that never was.
        raise NotFound("notification")
    return notification_out(row)


async def preferences(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    chosen = await NotificationRepository(session).preferences_of(user_id)
    return [
        {
            "kind": kind.name,
            "channel": channel,
            "enabled": True if kind.security else chosen.get((kind.name, channel), True),
            "locked": kind.security,
        }
        # Mails to people without an account and the digest are not a person's choice.
        for kind in KINDS.values()
        if not kind.transactional
        for channel in CHANNELS
    ]


async def set_preferences(
    session: AsyncSession, user_id: int, choices: list[tuple[str, str, bool]]
) -> list[dict[str, Any]]:
    for index, (kind_name, _, enabled) in enumerate(choices):
        kind = KINDS.get(kind_name)
        if kind is None or kind.transactional:
            raise ApiError(
                422,
                "unknown_kind",
                f"no notification kind {kind_name!r}",
                field=f"preferences[{index}].kind",
                expected=", ".join(k.name for k in KINDS.values() if not k.transactional),
            )
        if kind.security and not enabled:
            raise ApiError(
                422,
                "security_notice_required",
                "security notices cannot be turned off",
                field=f"preferences[{index}].enabled",
                expected="true",
            )
    await NotificationRepository(session).set_preferences(user_id, choices)
    return await preferences(session, user_id)
