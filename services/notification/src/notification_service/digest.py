"""The daily digest: the notices of noisy kinds held back during a day
(past ``digest_after`` mails of the kind to one person) go out the next day
as one mail per person and day, listing each.

The digest is itself a notification row, keyed by (person, day) through a
deterministic event id, so a digest built twice (two workers, a crash after
the commit) is one row and one mail; its items are marked ``digested`` in the
same transaction.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, time
from typing import Any

from cerc_shared.clock import ITALY
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service.repository import NotificationRepository
from notification_service.templates import render

DIGEST_NAMESPACE = uuid.UUID("6f1d8a52-3c1e-4f0a-9a57-0d5e2b8c9e41")


def digest_event_id(user_id: int, day: date) -> uuid.UUID:
    return uuid.uuid5(DIGEST_NAMESPACE, f"digest:{user_id}:{day.isoformat()}")


async def collect(session: AsyncSession, now: datetime) -> int:
    """Turn every finished day's held mails into digests; the number of digests made."""
    repo = NotificationRepository(session)
    start_of_today = datetime.combine(now.astimezone(ITALY).date(), time(0), tzinfo=ITALY)
    held = await repo.held_for_digest(start_of_today)
    groups: dict[tuple[int, date], list[Any]] = defaultdict(list)
    for row in held:
        groups[(row.user_id, row.created_at.astimezone(ITALY).date())].append(row)
    for (user_id, day), rows in groups.items():
        language = rows[0].language
        items = [
            render(r.kind, language, dict(r.params), unsubscribe_url=None).subject for r in rows
        ]
        person = await repo.recipient(user_id)
        await repo.add(
            event_id=digest_event_id(user_id, day),
            user_id=user_id,
            channel="email",
            kind="digest",
            params={
                "first_name": person.first_name,
                "day": day.isoformat(),
                "count": len(rows),
                "items": items,
            },
            address=person.email or rows[-1].address,
            language=language,
            state="pending",
            due_at=now,
        )
        await repo.mark_digested([r.id for r in rows])
    return len(groups)
