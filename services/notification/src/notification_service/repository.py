"""The notification service's queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service.models import (
    community_settings,
    notifications,
    preferences,
    sign_ins,
    users,
)


@dataclass(frozen=True)
class Recipient:
    user_id: int
    email: str | None
    first_name: str
    language: str


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------ people

    async def save_user(
        self, user_id: int, email: str, first_name: str, active: bool, language: str
    ) -> None:
        values = {
            "email": email,
            "first_name": first_name,
            "is_active": active,
            "language": language,
        }
        await self.session.execute(
            insert(users)
            .values(user_id=user_id, **values)
            .on_conflict_do_update(
                index_elements=["user_id"], set_={**values, "updated_at": func.now()}
            )
        )

    async def recipient(self, user_id: int) -> Recipient:
        """Who ``user_id`` is to a mail; someone we have not heard of yet gets
        the inbox only (no address) in Italian."""
        row = (
            await self.session.execute(
                select(
                    users.c.email, users.c.first_name, users.c.language, users.c.is_active
                ).where(users.c.user_id == user_id)
            )
        ).first()
        if row is None:
            return Recipient(user_id, None, "", "it")
        return Recipient(
            user_id, row.email if row.is_active else None, row.first_name, row.language
        )

    async def save_offline_threshold(self, community_id: int, minutes: int) -> None:
        await self.session.execute(
            insert(community_settings)
            .values(community_id=community_id, device_offline_threshold_min=minutes)
            .on_conflict_do_update(
                index_elements=["community_id"], set_={"device_offline_threshold_min": minutes}
            )
        )

    async def offline_threshold(self, community_id: int) -> timedelta | None:
        minutes = await self.session.scalar(
            select(community_settings.c.device_offline_threshold_min).where(
                community_settings.c.community_id == community_id
            )
        )
        return None if minutes is None else timedelta(minutes=minutes)

    async def sign_in_from(self, user_id: int, address: str, now: datetime) -> tuple[bool, bool]:
        """Record a sign-in; (had ``user_id`` signed in before, was ``address`` new to them)."""
        before = int(
            await self.session.scalar(
                select(func.count()).select_from(sign_ins).where(sign_ins.c.user_id == user_id)
            )
            or 0
        )
        inserted = await self.session.execute(
            insert(sign_ins)
            .values(user_id=user_id, address=address[:64], first_at=now, last_at=now)
            .on_conflict_do_update(index_elements=["user_id", "address"], set_={"last_at": now})
            .returning(sign_ins.c.first_at)
        )
        first_at = inserted.scalar_one()
        return before > 0, first_at == now

    # ------------------------------------------------------- preferences

    async def preferences_of(self, user_id: int) -> dict[tuple[str, str], bool]:
        rows = await self.session.execute(
            select(preferences.c.kind, preferences.c.channel, preferences.c.enabled).where(
                preferences.c.user_id == user_id
            )
        )
        return {(r.kind, r.channel): r.enabled for r in rows}

    async def set_preferences(self, user_id: int, choices: list[tuple[str, str, bool]]) -> None:
        for kind, channel, enabled in choices:
            await self.session.execute(
                insert(preferences)
                .values(user_id=user_id, kind=kind, channel=channel, enabled=enabled)
                .on_conflict_do_update(
                    index_elements=["user_id", "kind", "channel"],
                    set_={"enabled": enabled, "updated_at": func.now()},
                )
            )

    # ----------------------------------------------------- notifications

    async def add(self, **values: Any) -> int | None:
        """One notification; None when this (event, recipient, channel) already has one."""
        row = (
            await self.session.execute(
                insert(notifications)
                .values(**values)
                .on_conflict_do_nothing(constraint="uq_notifications_event_recipient")
                .returning(notifications.c.id)
            )
        ).first()
        return None if row is None else int(row.id)

    async def mails_of_kind_since(self, user_id: int, kind: str, since: datetime) -> int:
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(notifications)
                .where(
                    notifications.c.user_id == user_id,
                    notifications.c.channel == "email",
                    notifications.c.kind == kind,
                    notifications.c.created_at >= since,
                    notifications.c.state.in_(("pending", "sent")),
                )
            )
            or 0
        )

    async def cancel_pending(self, kind: str, subject: str, now: datetime) -> int:
        """Withdraw what is not due yet (an offline device that came back in time)."""
        result = await self.session.execute(
            update(notifications)
            .where(
                notifications.c.kind == kind,
                notifications.c.subject == subject,
                notifications.c.state == "pending",
                notifications.c.due_at > now,
            )
            .values(state="cancelled")
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def told_since_last(
        self, kind: str, answer: str, subject: str, now: datetime
    ) -> list[int]:
        """Who was told ``kind`` about ``subject`` after the last ``answer`` (e.g.
        offline after the last online): the people to tell the answer."""
        last_answer = (
            select(func.coalesce(func.max(notifications.c.id), 0))
            .where(notifications.c.kind == answer, notifications.c.subject == subject)
            .scalar_subquery()
        )
        rows = await self.session.scalars(
            select(notifications.c.user_id)
            .where(
                notifications.c.kind == kind,
                notifications.c.subject == subject,
                notifications.c.id > last_answer,
                notifications.c.due_at <= now,
                notifications.c.state.in_(("pending", "sent", "digest")),
            )
            .distinct()
        )
        return sorted(rows)

    def _inbox(self, user_id: int, now: datetime) -> Any:
        return and_(
            notifications.c.user_id == user_id,
            notifications.c.channel == "inbox",
            notifications.c.state.in_(("pending", "sent")),
            notifications.c.due_at <= now,
        )

    async def inbox(
        self, user_id: int, now: datetime, *, unread_only: bool, page: int, per_page: int
    ) -> tuple[list[Any], int]:
        where = self._inbox(user_id, now)
        if unread_only:
            where = and_(where, notifications.c.read_at.is_(None))
        total = await self.session.scalar(
            select(func.count()).select_from(notifications).where(where)
        )
        rows = await self.session.execute(
            select(notifications)
            .where(where)
            .order_by(notifications.c.due_at.desc(), notifications.c.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        return list(rows), int(total or 0)

    async def unread_count(self, user_id: int, now: datetime) -> int:
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(notifications)
                .where(self._inbox(user_id, now), notifications.c.read_at.is_(None))
            )
            or 0
        )

    async def mark_read(self, user_id: int, notification_id: int, now: datetime) -> Any | None:
        """Mark one's own inbox notification read; None if it is not theirs (or not there)."""
        await self.session.execute(
            update(notifications)
            .where(
                notifications.c.id == notification_id,
                self._inbox(user_id, now),
                notifications.c.read_at.is_(None),
            )
            .values(read_at=now)
        )
        return (
            await self.session.execute(
                select(notifications).where(
                    notifications.c.id == notification_id, self._inbox(user_id, now)
                )
            )
        ).first()

    # ----------------------------------------------------------- digest

    async def held_for_digest(self, before: datetime) -> list[Any]:
        """Mails held for a digest whose day is over, oldest first, locked for this digest."""
        rows = await self.session.execute(
            select(notifications)
            .where(
                notifications.c.channel == "email",
                notifications.c.state == "digest",
                notifications.c.due_at < before,
            )
            .order_by(notifications.c.user_id, notifications.c.due_at, notifications.c.id)
            .with_for_update(skip_locked=True)
        )
        return list(rows)

    async def mark_digested(self, ids: list[int]) -> None:
        await self.session.execute(
            update(notifications).where(notifications.c.id.in_(ids)).values(state="digested")
        )

    # --------------------------------------------------------- delivery

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[Any]:
        """Take due mails and record the attempt before anything is sent: the
        lease (due_at pushed forward) keeps other senders off them, and a
        sender that dies leaves them due again once it expires."""
        due = (
            select(notifications.c.id)
            .where(
                notifications.c.channel == "email",
                notifications.c.state == "pending",
                notifications.c.due_at <= now,
            )
            .order_by(notifications.c.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = await self.session.execute(
            update(notifications)
            .where(notifications.c.id.in_(due))
            .values(
                attempts=notifications.c.attempts + 1,
                last_attempt_at=now,
                due_at=now + lease,
            )
            .returning(notifications)
        )
        return list(rows)

    async def sent(self, notification_id: int, now: datetime) -> None:
        await self.session.execute(
            update(notifications)
            .where(notifications.c.id == notification_id)
            .values(state="sent", sent_at=now, last_error=None)
        )

    async def failed(self, notification_id: int, error: str, retry_at: datetime | None) -> None:
        values: dict[str, Any] = {"last_error": error[:2000]}
        if retry_at is None:
            values["state"] = "dead"
        else:
            values["due_at"] = retry_at
        await self.session.execute(
            update(notifications).where(notifications.c.id == notification_id).values(**values)
        )

    async def postpone(self, notification_id: int, until: datetime) -> None:
        """Not an attempt: the rate limit holds it back (the claim's count is undone)."""
        await self.session.execute(
            update(notifications)
            .where(notifications.c.id == notification_id)
            .values(due_at=until, attempts=notifications.c.attempts - 1)
        )

    async def first_mail_sent_since(
        self, user_id: int, since: datetime
    ) -> tuple[int, datetime | None]:
        """How many mails went to ``user_id`` since ``since``, and the first of them."""
        row = (
            await self.session.execute(
                select(func.count(), func.min(notifications.c.sent_at)).where(
                    notifications.c.user_id == user_id,
                    notifications.c.channel == "email",
                    notifications.c.state == "sent",
                    notifications.c.sent_at >= since,
                )
            )
        ).one()
        return int(row[0]), row[1]
