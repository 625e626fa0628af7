"""Who is told of what, for the kinds beyond the registry's: account security,
invitations, settlements to approve and approved, and the daily digest. Real
PostgreSQL and the SMTP sink; events through the service's own consumer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cerc_shared.clock import italian_now
from cerc_shared.events.cer import CommunityUpdated, InvitationCreated
from cerc_shared.events.economic import (
    MemberAmount,
    PayoutCreated,
    PayoutLeftOut,
    PayoutTransfer,
    PayoutTransferFailed,
    ReconciliationCause,
    ReconciliationMismatch,
    SettlementApproved,
    SettlementComputed,
)
from cerc_shared.events.iot import DeviceStatusChanged
from cerc_shared.events.user import AccountSecurityChanged
from notification_service.models import notifications
from sqlalchemy import select

from .conftest import Fleet, Sink, auth, new_id


async def subjects(sink: Sink, address: str) -> list[str]:
    return [m["subject"] for m in await sink.messages(address)]


async def test_security_changes_are_mailed_even_when_turned_off(
    fleet: Fleet, sink: Sink, client: httpx.AsyncClient
) -> None:
    user_id, address = await fleet.user(language="en")
    refused = await client.put(
        "/api/notifications/preferences/",
        headers=auth(user_id),
        json={
            "preferences": [
                {"kind": "security.password_changed", "channel": "email", "enabled": False}
            ]
        },
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "security_notice_required"
    for change in ("password_changed", "two_factor_enabled", "two_factor_disabled"):
        await fleet.deliver(AccountSecurityChanged(user_id=user_id, change=change))
    await fleet.delivery.deliver_due()
    assert sorted(await subjects(sink, address)) == [
        "The password of your account has changed",
        "Two-factor authentication turned off",
        "Two-factor authentication turned on",
    ]
    mail = await sink.message((await sink.messages(address))[0]["id"])
    assert "/unsubscribe/" not in mail["text"]


async def test_a_sign_in_from_a_new_address_is_told_and_a_known_one_is_not(
    fleet: Fleet, sink: Sink
) -> None:
    user_id, address = await fleet.user()

    async def sign_in(ip: str) -> None:
        await fleet.deliver(
            AccountSecurityChanged(
                user_id=user_id, change="session_started", address=ip, user_agent="Firefox/130"
            )
        )

    await sign_in("198.51.100.7")  # the first sign-in ever: no news
    await sign_in("198.51.100.7")  # the same place again
    await fleet.delivery.deliver_due()
    assert await sink.messages(address) == []
    await sign_in("203.0.113.99")  # somewhere new
    await sign_in("203.0.113.99")
    await fleet.delivery.deliver_due()
    [mail] = await sink.messages(address)
    assert mail["subject"] == "Nuovo accesso al tuo account"
    detail = await sink.message(mail["id"])
    assert "203.0.113.99 (Firefox/130)" in detail["text"]


async def test_an_invitation_is_mailed_once_to_the_typed_address_with_its_link(
    fleet: Fleet, sink: Sink
) -> None:
    invited = f"invited-{uuid.uuid4().hex[:8]}@example.org"
    event = InvitationCreated(
        invitation_id=new_id(),
        community_id=new_id(),
        community_name="CER Sole di Bergamo",
        email=invited,
        role="MEMBER",
        expires_at=datetime(2026, 12, 20, 9, 0, tzinfo=UTC),
        accept_path="/invitations/accept/?token=tok123",
    )
    envelope = await fleet.deliver(event)
    async with fleet.maker() as session, session.begin():
        await fleet.consumer._handler(session, envelope)  # a replay past processed-events
    await fleet.delivery.deliver_due()
    await fleet.delivery.deliver_due()
    [mail] = await sink.messages(invited)
    assert mail["subject"] == "Invito a entrare nella comunità CER Sole di Bergamo"
    detail = await sink.message(mail["id"])
    assert "http://127.0.0.1:18080/invitations/accept/?token=tok123" in detail["text"]
    assert "20 dicembre 2026, 10:00" in detail["text"]
    assert "/unsubscribe/" not in detail["text"]
    async with fleet.maker() as session:
        channels = (
            await session.scalars(
                select(notifications.c.channel).where(notifications.c.event_id == envelope.id)
            )
        ).all()
    assert channels == ["email"]  # no account, so no inbox


async def test_a_provisional_run_asks_the_admins_and_a_failed_one_names_missing_data(
    fleet: Fleet, sink: Sink
) -> None:
    admin, admin_mail = await fleet.user(language="en")
    member, member_mail = await fleet.user()
    community = await fleet.community("CER Valle")
    await fleet.deliver(fleet.membership(admin, community, role="ADMIN"))
    await fleet.deliver(fleet.membership(member, community))
    facts: dict[str, Any] = {
        "community_id": community,
        "period": "2026-10",
        "inputs_fingerprint": "f" * 64,
    }
    await fleet.deliver(
        SettlementComputed(
            run_id=new_id(),
            kind="ESTIMATE",
            status="COMPLETED",
            total_cents=1000,
            community_cents=100,
            **facts,
        )
    )
    await fleet.deliver(
        SettlementComputed(
            run_id=new_id(),
            kind="PROVISIONAL",
            status="FAILED",
            total_cents=None,
            community_cents=None,
            error_codes=["official_data_incomplete"],
            **facts,
        )
    )
    run_id = new_id()
    await fleet.deliver(
        SettlementComputed(
            run_id=run_id,
            kind="PROVISIONAL",
            status="COMPLETED",
            total_cents=123456,
            community_cents=6173,
            **facts,
        )
    )
    await fleet.delivery.deliver_due()
    told = {m["subject"]: m["id"] for m in await sink.messages(admin_mail)}
    assert sorted(told) == [
        "Settlement of 2026-10 awaiting approval: €1,234.56",
        "Settlement of 2026-10 not computed",
        "Welcome to the community CER Valle",
    ]
    failed = await sink.message(told["Settlement of 2026-10 not computed"])
    assert "official data for 2026-10" in failed["text"]
    waiting = await sink.message(told["Settlement of 2026-10 awaiting approval: €1,234.56"])
    assert "€61.73 of it to the community" in waiting["text"]
    assert f"/communities/{community}/settlements/{run_id}" in waiting["text"]
    # A plain member is not asked to approve anything (the ESTIMATE told nobody).
    assert await subjects(sink, member_mail) == ["Benvenuto nella comunità CER Valle"]


async def test_an_approved_run_tells_each_member_their_own_amount(
    fleet: Fleet, sink: Sink, client: httpx.AsyncClient
) -> None:
    anna, anna_mail = await fleet.user()
    bruno, bruno_mail = await fleet.user(language="en")
    community = await fleet.community("CER Lago")
    event = SettlementApproved(
        run_id=new_id(),
        community_id=community,
        period="2026-09",
        kind="FINAL",
        approves_run_id=new_id(),
        approved_by=anna,
        total_cents=30000,
        community_cents=1500,
        members=[
            MemberAmount(user_id=anna, as_producer_cents=120000, as_consumer_cents=3456),
            MemberAmount(user_id=bruno, as_producer_cents=0, as_consumer_cents=789),
        ],
    )
    envelope = await fleet.deliver(event)
    assert await fleet.consumer.handle(envelope) is False
    await fleet.delivery.deliver_due()
    [to_anna] = await sink.messages(anna_mail)
    assert to_anna["subject"] == "Ripartizione di 2026-09 approvata: 1.234,56\xa0€"
    [to_bruno] = await sink.messages(bruno_mail)
    assert to_bruno["subject"] == "Settlement of 2026-09 approved: €7.89"
    inbox = await client.get("/api/notifications/", headers=auth(bruno))
    [notice] = [n for n in inbox.json()["data"] if n["kind"] == "settlement.approved"]
    assert notice["params"]["amount_eur"] == "7.89"


async def test_a_flapping_meter_past_the_days_limit_goes_into_one_digest_the_next_day(
    fleet: Fleet, sink: Sink
) -> None:
    owner, owner_mail = await fleet.user(language="en")
    community = await fleet.community()
    plant = await fleet.plant(owner, community)
    threshold = timedelta(seconds=fleet.delivery.settings.device_offline_threshold_s)
    now = italian_now()
    # Four meters of one plant go silent: two mails today (digest_after=2), two held.
    for n in range(4):
        await fleet.deliver(
            DeviceStatusChanged(
                device_id=f"flap-{plant}-{n}",
                plant_id=plant,
                status="OFFLINE",
                previous="ONLINE",
                last_seen=now - threshold - timedelta(minutes=5),
            )
        )
    await fleet.delivery.deliver_due()
    assert len(await sink.messages(owner_mail)) == 2
    assert await fleet.delivery.collect_digests(now) == 0  # the day is not over
    tomorrow = now + timedelta(days=1)
    made = await fleet.delivery.collect_digests(tomorrow)
    assert made >= 1
    assert await fleet.delivery.collect_digests(tomorrow) == 0  # built once
    await fleet.delivery.deliver_due(now=tomorrow)
    mails = await sink.messages(owner_mail)
    assert len(mails) == 3
    [digest_mail] = [m for m in mails if m["subject"].startswith("Digest of")]
    digest = await sink.message(digest_mail["id"])
    assert digest["subject"].startswith("Digest of") and ": 2 notices" in digest["subject"]
    assert f"Meter flap-{plant}-2 silent since" in digest["text"]
    assert f"Meter flap-{plant}-3 silent since" in digest["text"]


async def test_a_payout_tells_those_paid_those_left_out_and_the_banks_answer(
    fleet: Fleet, sink: Sink
) -> None:
    admin, admin_mail = await fleet.user()
    paid, paid_mail = await fleet.user()
    no_iban, no_iban_mail = await fleet.user(language="en")
    community = await fleet.community("CER Colle")
    await fleet.deliver(fleet.membership(admin, community, role="ADMIN"))
    for user in (paid, no_iban):
        await fleet.deliver(fleet.membership(user, community))
    payout = new_id()
    transfer = new_id()
    await fleet.deliver(
        PayoutCreated(
            payout_id=payout,
            community_id=community,
            created_by=admin,
            total_cents=4210,
            transfers=[PayoutTransfer(transfer_id=transfer, user_id=paid, amount_cents=4210)],
            left_out=[PayoutLeftOut(user_id=no_iban, amount_cents=995, reason="NO_VALID_IBAN")],
        )
    )
    await fleet.deliver(
        PayoutTransferFailed(
            payout_id=payout,
            community_id=community,
            transfer_id=transfer,
            user_id=paid,
            amount_cents=4210,
            reason="AC04 closed account",
        )
    )
    await fleet.delivery.deliver_due()
    assert sorted(await subjects(sink, paid_mail)) == [
        "Benvenuto nella comunità CER Colle",
        "Bonifico di 42,10\xa0€ in arrivo da CER Colle",
        "Bonifico di 42,10\xa0€ non riuscito",
    ]
    [left] = [m for m in await sink.messages(no_iban_mail) if "not paid" in m["subject"]]
    assert left["subject"] == "€9.95 not paid yet by CER Colle"
    assert "no valid IBAN" in (await sink.message(left["id"]))["text"]
    # The admin hears of the failed transfer (to fix it), not of each one sent.
    assert sorted(await subjects(sink, admin_mail)) == [
        "Benvenuto nella comunità CER Colle",
        "Bonifico di 42,10\xa0€ non riuscito",
    ]


async def test_a_reconciliation_mismatch_names_the_pod_to_the_admins(
    fleet: Fleet, sink: Sink
) -> None:
    admin, admin_mail = await fleet.user()
    member, member_mail = await fleet.user()
    community = await fleet.community("CER Piana")
    await fleet.deliver(fleet.membership(admin, community, role="ADMIN"))
    await fleet.deliver(fleet.membership(member, community))
    await fleet.deliver(
        ReconciliationMismatch(
            community_id=community,
            period="2026-08",
            run_id=new_id(),
            difference_cents=-1875,
            tolerance_cents=100,
            causes=[
                ReconciliationCause(
                    cause="GSE_MISSING_DATA", pod="IT001E12345678", difference_cents=-1875
                )
            ],
        )
    )
    await fleet.delivery.deliver_due()
    [mail] = [m for m in await sink.messages(admin_mail) if m["subject"].startswith("GSE")]
    assert mail["subject"] == "GSE e piattaforma non coincidono per 2026-08: -18,75\xa0€"
    assert "GSE_MISSING_DATA IT001E12345678" in (await sink.message(mail["id"]))["text"]
    assert len(await sink.messages(member_mail)) == 1  # the welcome only


async def test_a_community_with_a_longer_threshold_hears_of_a_silent_meter_later(
    fleet: Fleet, sink: Sink
) -> None:
    owner, owner_mail = await fleet.user()
    community = await fleet.community()
    plant = await fleet.plant(owner, community)
    await fleet.deliver(
        CommunityUpdated(
            community_id=community,
            code=f"C{community}",
            name="CER Sole di Bergamo",
            market_zone="NORD",
            is_active=True,
            distribution_shares=[],
            device_offline_threshold_min=120,
            changed=["device_offline_threshold_min"],
        )
    )
    silent_since = italian_now() - timedelta(minutes=45)  # past the default 30, not 120
    await fleet.deliver(
        DeviceStatusChanged(
            device_id=f"slow-{plant}",
            plant_id=plant,
            status="OFFLINE",
            previous="ONLINE",
            last_seen=silent_since,
        )
    )
    await fleet.delivery.deliver_due()
    assert await sink.messages(owner_mail) == []
    await fleet.delivery.deliver_due(now=silent_since + timedelta(minutes=121))
    [mail] = await sink.messages(owner_mail)
    assert mail["subject"].startswith(f"Il contatore slow-{plant} non trasmette")
