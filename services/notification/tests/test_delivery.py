"""Mails through the real SMTP sink: once per event and recipient, retried,
dead-lettered, not suppressible when they are about security."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from typing import Any

import httpx
from cerc_shared.clock import italian_now
from cerc_shared.events.user import UserUpdated
from notification_service.models import notifications, preferences
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import Fleet, Sink, auth


async def rows(maker: async_sessionmaker[AsyncSession], user_id: int) -> list[Any]:
    async with maker() as session:
        result = await session.execute(
            select(notifications)
            .where(notifications.c.user_id == user_id)
            .order_by(notifications.c.id)
        )
        return list(result)


async def test_an_event_delivered_twice_sends_one_mail(fleet: Fleet, sink: Sink) -> None:
    user_id, address = await fleet.user()
    community = await fleet.community("CER Sole di Bergamo")
    event = fleet.membership(user_id, community)
    envelope = await fleet.deliver(event)
    # Kafka's redelivery: the same envelope, recognised as processed.
    assert await fleet.consumer.handle(envelope) is False
    # Even past the processed-events table (a replay under another consumer
    # name), the unique key keeps one notification per channel.
    async with fleet.maker() as session, session.begin():
        await fleet.consumer._handler(session, envelope)
    assert [(r.channel, r.state) for r in await rows(fleet.maker, user_id)] == [
        ("email", "pending"),
        ("inbox", "pending"),
    ]

    await fleet.delivery.deliver_due()
    await fleet.delivery.deliver_due()
    mails = await sink.messages(address)
    assert len(mails) == 1
    assert mails[0]["subject"] == "Benvenuto nella comunità CER Sole di Bergamo"
    assert (
        mails[0]["message_id"]
        == f"<{envelope.id}.{user_id}.email@notifications.cercollettiva.invalid>"
    )
    detail = await sink.message(mails[0]["id"])
    assert "dal 1 gennaio 2026 fai parte della comunità energetica" in detail["text"]
    assert "<h1" in detail["html"]
    assert "/api/notifications/unsubscribe/?token=" in detail["text"]
    assert next(r.state for r in await rows(fleet.maker, user_id)) == "sent"


async def test_a_crash_after_sending_resends_with_the_same_message_id(
    fleet: Fleet, sink: Sink
) -> None:
    """The documented guarantee: a sender that dies between the relay's
    acceptance and recording "sent" leaves the claimed row, whose lease
    expires; the mail goes again with the same Message-ID (a duplicate the
    reader can detect), never zero mails."""
    user_id, address = await fleet.user()
    await fleet.deliver(fleet.membership(user_id, await fleet.community()))
    await fleet.delivery.deliver_due()
    async with fleet.maker() as session, session.begin():
        # What the crash leaves: attempt recorded, lease taken, never marked sent.
        await session.execute(
            update(notifications)
            .where(notifications.c.user_id == user_id, notifications.c.channel == "email")
            .values(state="pending", sent_at=None)
        )
    # Before the lease expires nobody takes it again.
    assert await fleet.delivery.deliver_due() == 0 or len(await sink.messages(address)) == 1
    later = italian_now() + timedelta(seconds=fleet.delivery.settings.delivery_lease_s + 1)
    await fleet.delivery.deliver_due(now=later)
    mails = await sink.messages(address)
    assert len(mails) == 2
    assert mails[0]["message_id"] == mails[1]["message_id"]


async def test_a_refused_mail_is_retried_later_and_then_sent(fleet: Fleet, sink: Sink) -> None:
    user_id, address = await fleet.user()
    await fleet.deliver(fleet.membership(user_id, await fleet.community()))
    await sink.refuse_next(1, 451)
    await fleet.delivery.deliver_due()
    [mail_row, _] = await rows(fleet.maker, user_id)
    assert mail_row.state == "pending"
    assert mail_row.attempts == 1
    assert "451" in mail_row.last_error
    assert await sink.messages(address) == []
    # Backoff: not retried at once...
    await fleet.delivery.deliver_due()
    assert (await rows(fleet.maker, user_id))[0].attempts == 1
    # ...but once the delay (30 s for the first failure) has passed.
    await fleet.delivery.deliver_due(now=mail_row.due_at + timedelta(seconds=1))
    [mail_row, _] = await rows(fleet.maker, user_id)
    assert (mail_row.state, mail_row.attempts) == ("sent", 2)
    assert len(await sink.messages(address)) == 1


async def test_a_mail_refused_every_time_is_dead_lettered(fleet: Fleet, sink: Sink) -> None:
    user_id, address = await fleet.user()
    await fleet.deliver(fleet.membership(user_id, await fleet.community()))
    attempts = fleet.delivery.settings.delivery_max_attempts
    await sink.refuse_next(attempts, 550)
    moment = italian_now()
    for _ in range(attempts):
        await fleet.delivery.deliver_due(now=moment)
        moment = (await rows(fleet.maker, user_id))[0].due_at + timedelta(seconds=1)
    mail_row = (await rows(fleet.maker, user_id))[0]
    assert (mail_row.state, mail_row.attempts) == ("dead", attempts)
    await fleet.delivery.deliver_due(now=moment + timedelta(days=1))
    assert await sink.messages(address) == []


async def test_a_security_mail_cannot_be_turned_off(
    fleet: Fleet, sink: Sink, client: httpx.AsyncClient
) -> None:
    user_id, old_address = await fleet.user()
    refused = await client.put(
        "/api/notifications/preferences/",
        json={
            "preferences": [
                {"kind": "security.email_changed", "channel": "email", "enabled": False}
            ]
        },
        headers=auth(user_id),
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "security_notice_required"
    assert refused.json()["errors"][0]["field"] == "preferences[0].enabled"
    # Even a preference row written around the API does not stop it.
    async with fleet.maker() as session, session.begin():
        await session.execute(
            preferences.insert().values(
                user_id=user_id, kind="security.email_changed", channel="email", enabled=False
            )
        )
    new_address = f"new-{old_address}"
    await fleet.deliver(
        UserUpdated(
            user_id=user_id,
            username=f"u{user_id}",
            email=new_address,
            first_name="Giulia",
            last_name="Rossi",
            user_type="PRIVATE",
            is_active=True,
            changed=["email"],
        )
    )
    await fleet.delivery.deliver_due()
    # Told at the old address, where the owner still reads.
    [mail] = await sink.messages(old_address)
    assert mail["subject"] == "L'indirizzo e-mail del tuo account è cambiato"
    assert await sink.messages(new_address) == []
    detail = await sink.message(mail["id"])
    assert new_address in detail["text"]
    assert "unsubscribe" not in detail["text"]
    assert "list-unsubscribe" not in {name.lower() for name, _ in detail["headers"]}


async def test_a_kind_turned_off_by_mail_is_not_mailed_but_stays_in_the_inbox(
    fleet: Fleet, sink: Sink, client: httpx.AsyncClient
) -> None:
    user_id, address = await fleet.user(language="en", first_name="Ann")
    # The choice is committed as the API's request would commit it (the test
    # client's requests run in a transaction that is rolled back).
    async with fleet.maker() as session, session.begin():
        await session.execute(
            preferences.insert().values(
                user_id=user_id, kind="membership.started", channel="email", enabled=False
            )
        )
    shown = await client.get("/api/notifications/preferences/", headers=auth(user_id))
    chosen = {(p["kind"], p["channel"]): p["enabled"] for p in shown.json()["data"]}
    assert chosen[("membership.started", "email")] is False
    assert chosen[("security.email_changed", "email")] is True
    await fleet.deliver(fleet.membership(user_id, await fleet.community("CER Alpi")))
    await fleet.delivery.deliver_due()
    assert await sink.messages(address) == []
    listed = await client.get("/api/notifications/", headers=auth(user_id))
    assert [n["kind"] for n in listed.json()["data"]] == ["membership.started"]


async def test_the_unsubscribe_link_turns_the_kind_off(
    fleet: Fleet, sink: Sink, client: httpx.AsyncClient
) -> None:
    user_id, address = await fleet.user(language="en")
    await fleet.deliver(fleet.membership(user_id, await fleet.community()))
    await fleet.delivery.deliver_due()
    [mail] = await sink.messages(address)
    raw = (await sink.http.get(f"/messages/{mail['id']}/raw")).content
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    link = str(parsed["List-Unsubscribe"]).strip("<>")
    assert parsed["Content-Language"] == "en"
    path = link.split("127.0.0.1:18080", 1)[1]
    # Opening the link (a person, or a mail scanner) asks; it changes nothing.
    page = await client.get(path)
    assert page.status_code == 200 and 'method="post"' in page.text
    prefs = await client.get("/api/notifications/preferences/", headers=auth(user_id))
    chosen = {(p["kind"], p["channel"]): p["enabled"] for p in prefs.json()["data"]}
    assert chosen[("membership.started", "email")] is True
    # The mail client's one-click POST (RFC 8058) turns it off.
    done = await client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200, done.text
    prefs = await client.get("/api/notifications/preferences/", headers=auth(user_id))
    chosen = {(p["kind"], p["channel"]): p["enabled"] for p in prefs.json()["data"]}
    assert chosen[("membership.started", "email")] is False
    assert chosen[("membership.started", "inbox")] is True
    forged = await client.post(path.replace(str(user_id), str(user_id + 1), 1))
    assert forged.status_code == 400


async def test_a_recipient_past_the_hourly_limit_waits(fleet: Fleet, sink: Sink) -> None:
    user_id, address = await fleet.user()
    limit = fleet.delivery.settings.rate_limit_per_hour
    for _ in range(limit + 2):
        await fleet.deliver(fleet.membership(user_id, await fleet.community()))
    await fleet.delivery.deliver_due()
    assert len(await sink.messages(address)) == limit
    held = [
        r for r in await rows(fleet.maker, user_id) if r.channel == "email" and r.state == "pending"
    ]
    assert len(held) == 2
    assert all(r.attempts == 0 for r in held)
    assert all(r.due_at > italian_now() + timedelta(minutes=50) for r in held)


async def test_preferences_are_set_through_the_api(client: httpx.AsyncClient) -> None:
    user_id = 990_000_000 + 7
    put = await client.put(
        "/api/notifications/preferences/",
        json={"preferences": [{"kind": "device.offline", "channel": "email", "enabled": False}]},
        headers=auth(user_id),
    )
    assert put.status_code == 200, put.text
    chosen = {(p["kind"], p["channel"]): p["enabled"] for p in put.json()["data"]}
    assert chosen[("device.offline", "email")] is False
    assert chosen[("device.offline", "inbox")] is True
    unknown = await client.put(
        "/api/notifications/preferences/",
        json={"preferences": [{"kind": "nope", "channel": "email", "enabled": False}]},
        headers=auth(user_id),
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "preferences[0].kind"
