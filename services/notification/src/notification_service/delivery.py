"""Sending the mails: an outbox-like worker over the ``notifications`` table.

The guarantee, honestly: each (event, recipient) gets at most one mail row
(the unique key), and the row is claimed with its attempt recorded *before*
the SMTP conversation starts. If the service dies after the relay accepted
the message but before the row says "sent", the lease expires and the mail
is sent again, with the same ``Message-ID`` (derived from the row's key):
at most a duplicate that the relay or the reader's client can recognise,
never a lost mail. A refused or failed send is retried after an
exponentially growing delay; after the last attempt the row is dead (kept,
with the last error, for an operator).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import aiosmtplib
from cerc_shared.clock import italian_now
from cerc_shared.worker import Worker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification_service import digest, unsubscribe
from notification_service.kinds import KINDS
from notification_service.repository import NotificationRepository
from notification_service.settings import NotificationSettings
from notification_service.templates import render

log = logging.getLogger(__name__)


def message_id(row: Any, domain: str) -> str:
    """The same for every attempt of one notification: the key, not the attempt."""
    recipient = row.user_id if row.user_id is not None else "address"
    return f"<{row.event_id}.{recipient}.{row.channel}@{domain}>"


def compose(row: Any, settings: NotificationSettings) -> EmailMessage:
    kind = KINDS[row.kind]
    link = None
    if kind.optional and row.user_id is not None:
        signed = unsubscribe.token(settings.unsubscribe_secret, row.user_id, row.kind)
        link = f"{settings.public_url}/api/notifications/unsubscribe/?token={signed}"
    params = dict(row.params)
    params.setdefault("public_url", settings.public_url)
    items = [str(i) for i in params.pop("items", [])] if row.kind == "digest" else None
    mail = render(row.kind, row.language, params, unsubscribe_url=link, items=items)
    # Long header lines are allowed (RFC 5322: up to 998): folded or encoded,
    # the unsubscribe URL would no longer be one a client can use.
    message = EmailMessage(policy=email.policy.SMTP.clone(max_line_length=998))
    message["From"] = settings.mail_from
    message["To"] = row.address
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(row, settings.message_id_domain)
    if link is not None:
        # RFC 8058: one-click unsubscribe from the mail client.
        message["List-Unsubscribe"] = f"<{link}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    # After the body: setting the content clears the Content-* headers.
    message["Content-Language"] = row.language
    return message


class DeliveryWorker(Worker):
    def __init__(
        self, settings: NotificationSettings, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        super().__init__("notification-delivery")
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.sent = 0
        self.failures = 0
        self.digests = 0
        self._wake = asyncio.Event()

    def poke(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self.collect_digests()
            busy = await self.deliver_due()
            if busy:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), timeout=self.settings.delivery_poll_interval_s
                )

    async def collect_digests(self, now: datetime | None = None) -> int:
        """Yesterday's held mails of noisy kinds become one digest per person."""
        async with self.sessionmaker() as session, session.begin():
            made = await digest.collect(session, now or italian_now())
        self.digests += made
        return made

    async def deliver_due(self, now: datetime | None = None) -> int:
        """Send what is due; the number of mails taken."""
        s = self.settings
        now = now or italian_now()
        async with self.sessionmaker() as session, session.begin():
            rows = await NotificationRepository(session).claim_due(
                now, s.delivery_batch, timedelta(seconds=s.delivery_lease_s)
            )
        for row in rows:
            await self._deliver(row, now)
        return len(rows)

    async def _deliver(self, row: Any, now: datetime) -> None:
        s = self.settings
        if KINDS[row.kind].optional and row.user_id is not None:
            hour_ago = now - timedelta(hours=1)
            async with self.sessionmaker() as session, session.begin():
                repo = NotificationRepository(session)
                count, first = await repo.first_mail_sent_since(row.user_id, hour_ago)
                if count >= s.rate_limit_per_hour and first is not None:
                    await repo.postpone(row.id, first + timedelta(hours=1))
                    return
        error: str | None = None
        try:
            await aiosmtplib.send(
                compose(row, s),
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username or None,
                password=s.smtp_password or None,
                start_tls=s.smtp_start_tls,
                timeout=s.smtp_timeout_s,
            )
        except Exception as exc:
            # A refusal, a lost relay or a template that cannot render: the
            # row records why and is retried, never left leased by a crash of
            # this loop.
            error = f"{type(exc).__name__}: {exc}"
        async with self.sessionmaker() as session, session.begin():
            repo = NotificationRepository(session)
            if error is None:
                self.sent += 1
                await repo.sent(row.id, italian_now())
                return
            self.failures += 1
            retry_at = None
            if row.attempts < s.delivery_max_attempts:
                delay = s.delivery_backoff_base_s * 2 ** (row.attempts - 1)
                retry_at = italian_now() + timedelta(seconds=delay)
            log.warning(
                "mail %s attempt %d failed (%s); %s",
                row.id,
                row.attempts,
                error,
                f"retry at {retry_at.isoformat()}" if retry_at else "dead-lettered",
            )
            await repo.failed(row.id, error, retry_at)
