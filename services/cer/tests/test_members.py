"""Members: who joins with which facts, the identifiers checked at the door,
personal data sealed at rest and masked, periods ended never deleted, export and erasure."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cer_service.models import AuditEntry, KnownUser, Membership, outbox
from cerc_shared.events import EventEnvelope
from cerc_shared.events.user import ACCOUNT_ERASED, UserUpdated
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import (
    IBAN,
    PLATFORM_ADMIN,
    TAX_CODE,
    VAT_NUMBER,
    Users,
    add_member,
    auth,
    member_body,
    new_community,
    plant_body,
)


async def _counts(maker: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    async with maker() as session:
        members = await session.scalar(select(func.count()).select_from(Membership))
        audit = await session.scalar(select(func.count()).select_from(AuditEntry))
        events = await session.scalar(select(func.count()).select_from(outbox))
        return int(members or 0), int(audit or 0), int(events or 0)


async def test_manager_adds_members_by_username_email_or_id(
    client: httpx.AsyncClient, users: Users, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cid = (await new_community(client, 10))["id"]
    await users.register(20, "anna")
    await users.register(21, "bruno", email="Bruno@Example.it")
    await users.register(22, "comune", user_type="BUSINESS")
    anna = await add_member(client, cid, 10, "ANNA")  # usernames match case-insensitively
    assert anna["user_id"] == 20 and anna["first_name"] == "Anna"
    assert anna["tax_code"] == TAX_CODE and anna["iban"] == IBAN  # in clear for the admin
    bruno = await add_member(
        client, cid, 10, "x", username=None, email="bruno@example.it", role="VIEWER"
    )
    assert bruno["user_id"] == 21 and bruno["role"] == "VIEWER"
    town = await add_member(
        client, cid, 10, "x", username=None, user_id=22, member_type="ENTERPRISE",
        body_type="LOCAL_AUTHORITY", tax_code=None, vat_number=f"IT{VAT_NUMBER}",
    )  # fmt: skip
    assert town["vat_number"] == VAT_NUMBER and town["body_type"] == "LOCAL_AUTHORITY"

    async with sessionmaker() as session:
        stored = await session.scalar(select(Membership).where(Membership.user_id == 20))
        assert stored is not None and stored.tax_code_sealed is not None
        # Sealed at rest: the column holds a versioned ciphertext, never the value.
        assert TAX_CODE not in stored.tax_code_sealed and stored.tax_code_sealed.startswith("v1:")
        assert IBAN not in (stored.iban_sealed or "")
        outbox_rows = (
            await session.execute(select(outbox.c.type, outbox.c.envelope).order_by(outbox.c.id))
        ).all()
        audit = list(await session.scalars(select(AuditEntry.after)))
    started = [r.envelope["data"] for r in outbox_rows if r.type == "membership.started"]
    assert [e["user_id"] for e in started] == [10, 20, 21, 22]
    assert started[3]["body_type"] == "LOCAL_AUTHORITY"
    # Personal data travels on no topic and enters no audit entry.
    for text in [str(r.envelope) for r in outbox_rows] + [str(a) for a in audit]:
        assert TAX_CODE not in text and IBAN not in text and VAT_NUMBER not in text

    listed = await client.get(f"/api/cer/{cid}/members/?role=MEMBER", headers=auth(10))
    assert [m["user_id"] for m in listed.json()["data"]] == [20, 22]
    assert listed.json()["meta"] == {"page": 1, "per_page": 20, "total": 2}


@pytest.mark.parametrize(
    ("change", "status", "field", "code"),
    [
        ({"tax_code": "RSSMRA85T10A562X"}, 422, "tax_code", "validation_error"),
        ({"tax_code": "NOT-A-CODE"}, 422, "tax_code", "validation_error"),
        ({"tax_code": VAT_NUMBER}, 422, "tax_code", "invalid_tax_code"),
        ({"tax_code": None}, 422, "tax_code", "tax_code_required"),
        ({"iban": "IT60X0542811101000000123457"}, 422, "iban", "validation_error"),
        ({"iban": "XX00"}, 422, "iban", "validation_error"),
        ({"member_type": "ENTERPRISE", "tax_code": None, "vat_number": "00743110158"},
         422, "vat_number", "validation_error"),
        ({"member_type": "ENTERPRISE", "tax_code": None}, 422, "vat_number", "vat_number_required"),
        ({"username": "nobody"}, 422, "username", "unknown_user"),
        ({"username": None, "email": "anna@example.it", "user_id": 20}, 422, "body",
         "validation_error"),
        ({"role": "OWNER"}, 422, "role", "validation_error"),
        ({"username": "sleepy"}, 422, "username", "user_inactive"),
    ],
)  # fmt: skip
async def test_bad_member_is_refused_and_writes_nothing(
    client: httpx.AsyncClient,
    users: Users,
    sessionmaker: async_sessionmaker[AsyncSession],
    change: dict[str, Any],
    status: int,
    field: str,
    code: str,
) -> None:
    cid = (await new_community(client, 10))["id"]
    await users.register(20, "anna")
    await users.register(23, "sleepy", is_active=False)
    body = member_body("anna")
    body.update(change)
    before = await _counts(sessionmaker)
    response = await client.post(f"/api/cer/{cid}/members/", json=body, headers=PLATFORM_ADMIN)
    assert response.status_code == status, response.text
    errors = response.json()["errors"]
    assert [(e["field"] or "", e["code"]) for e in errors] == [(field, code)]
    assert await _counts(sessionmaker) == before


async def test_personal_data_is_masked_except_to_the_member_and_the_admin(
    client: httpx.AsyncClient, users: Users
) -> None:
    cid = (await new_community(client, 10))["id"]
    await users.register(20, "anna")
    await users.register(21, "viola")
    await add_member(client, cid, 10, "anna")
    await add_member(client, cid, 10, "viola", role="VIEWER", tax_code=None, iban=None)

    seen_by_viewer = await client.get(f"/api/cer/{cid}/members/20/", headers=auth(21))
    masked = seen_by_viewer.json()["data"]
    assert masked["personal_data_masked"] is True
    assert masked["tax_code"] == "*" * 12 + TAX_CODE[-4:]
    assert masked["iban"] == "*" * (len(IBAN) - 4) + IBAN[-4:]
    own = (await client.get(f"/api/cer/{cid}/members/20/", headers=auth(20))).json()["data"]
    assert own["tax_code"] == TAX_CODE and own["personal_data_masked"] is False
    # A MEMBER lists only their own membership and may not look at others'.
    mine = await client.get(f"/api/cer/{cid}/members/", headers=auth(20))
    assert [m["user_id"] for m in mine.json()["data"]] == [20]
    assert (await client.get(f"/api/cer/{cid}/members/21/", headers=auth(20))).status_code == 403


async def test_removing_a_member_ends_the_period_and_keeps_history(
    client: httpx.AsyncClient, users: Users, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cid = (await new_community(client, 10))["id"]
    await users.register(20, "anna")
    await add_member(client, cid, 10, "anna", role="MEMBER")
    plant = await client.post("/api/plants/", json=plant_body(cid, 20), headers=auth(10))
    assert plant.status_code == 201, plant.text

    too_early = await client.delete(
        f"/api/cer/{cid}/members/20/?left_on=2024-12-31", headers=auth(10)
    )
    assert too_early.status_code == 422 and too_early.json()["errors"][0]["field"] == "left_on"
    left = await client.delete(f"/api/cer/{cid}/members/20/?left_on=2025-07-01", headers=auth(10))
    assert left.status_code == 200, left.text
    assert left.json()["data"]["valid_to"] == "2025-07-01"
    assert left.json()["data"]["is_active"] is False
    # The founder is the last administrator: they cannot leave it without one.
    last = await client.delete(f"/api/cer/{cid}/members/10/", headers=auth(10))
    assert last.status_code == 409 and last.json()["errors"][0]["code"] == "last_admin"

    listed = await client.get(f"/api/cer/{cid}/members/?is_active=false", headers=auth(10))
    assert [m["user_id"] for m in listed.json()["data"]] == [20]
    gone = (await client.get(f"/api/plants/{plant.json()['data']['id']}/", headers=auth(10))).json()
    assert gone["data"]["is_active"] is False
    assert gone["data"]["periods"] == [
        {"community_id": cid, "valid_from": "2025-01-01", "valid_to": "2025-07-01"}
    ]
    # Anna no longer sees the community at all.
    assert (await client.get(f"/api/cer/{cid}/", headers=auth(20))).status_code == 404
    # She may join again later: a new period, the old one kept.
    again = await add_member(client, cid, 10, "anna", joined_on="2025-09-01")
    assert again["valid_from"] == "2025-09-01"
    async with sessionmaker() as session:
        periods = (
            await session.execute(
                select(Membership.valid_from, Membership.valid_to)
                .where(Membership.user_id == 20)
                .order_by(Membership.id)
            )
        ).all()
        types = list(await session.scalars(select(outbox.c.type).order_by(outbox.c.id)))
    assert [(str(a), str(b)) for a, b in periods] == [
        ("2025-01-01", "2025-07-01"),
        ("2025-09-01", "None"),
    ]
    assert types[-3:] == ["membership.ended", "plant.left", "membership.started"]


async def test_member_exports_and_erases_their_data(
    client: httpx.AsyncClient, users: Users, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cid = (await new_community(client, 10))["id"]
    await users.register(20, "anna")
    await add_member(client, cid, 10, "anna")
    await client.post("/api/plants/", json=plant_body(cid, 20), headers=auth(10))

    export = await client.get("/api/cer/me/export/", headers=auth(20))
    assert export.status_code == 200
    data = export.json()["data"]
    assert data["username"] == "anna" and data["memberships"][0]["tax_code"] == TAX_CODE
    assert data["plants"][0]["pod"] == "IT001E12345678"
    assert data["plants"][0]["address"] == "Via Roma 1"

    erased = await client.post("/api/cer/me/erasure/", headers=auth(20))
    assert erased.status_code == 200
    assert erased.json()["data"] == {"user_id": 20, "memberships_ended": 1, "memberships_erased": 1}
    async with sessionmaker() as session:
        m = await session.scalar(select(Membership).where(Membership.user_id == 20))
        assert m is not None and m.erased_at is not None and m.valid_to is not None
        assert (m.tax_code_sealed, m.iban_sealed, m.vat_number_sealed) == (None, None, None)
        known = await session.get(KnownUser, 20)
        assert known is not None and known.username == "erased-20" and known.erased
    # A later user event does not bring the erased data back.
    await users.register(20, "anna")
    async with sessionmaker() as session:
        known = await session.get(KnownUser, 20)
        assert known is not None and known.username == "erased-20"
    # Settlement facts stay: the plant, its POD, power and period.
    after = (await client.get("/api/cer/me/export/", headers=auth(20))).json()["data"]
    assert after["username"] == "erased-20" and after["memberships"][0]["tax_code"] is None
    plant = after["plants"][0]
    assert plant["pod"] == "IT001E12345678" and plant["nominal_power_kw"] == "19.50"
    assert plant["address"] == "" and plant["latitude"] is None
    assert plant["periods"][0]["valid_to"] is not None


async def test_user_events_are_applied_once(
    users: Users, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    envelope = await users.register(30, "dario")
    assert await users.consumer.handle(envelope) is False  # the same event again: no effect
    async with sessionmaker() as session:
        known = await session.get(KnownUser, 30)
        assert known is not None and known.email == "dario@example.it"


async def test_an_account_erased_in_the_user_service_is_erased_here(
    client: httpx.AsyncClient, users: Users, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """user.v1 says the account was erased: memberships end, personal data goes,
    the plant's settlement facts stay, and the audit names the person."""
    cid = (await new_community(client, 40))["id"]
    await users.register(41, "elena")
    await add_member(client, cid, 40, "elena")
    await client.post("/api/plants/", json=plant_body(cid, 41), headers=auth(40))
    event = UserUpdated(
        user_id=41,
        username="erased-41",
        email="erased-41@erased.invalid",
        first_name="",
        last_name="",
        user_type="PRIVATE",
        is_active=False,
        changed=["email", "first_name", "is_active", "last_name", "username", ACCOUNT_ERASED],
    )
    envelope = EventEnvelope.wrap(event, producer="user", correlation_id=None)
    assert await users.consumer.handle(envelope)
    async with sessionmaker() as session:
        m = await session.scalar(select(Membership).where(Membership.user_id == 41))
        assert m is not None and m.erased_at is not None and m.valid_to is not None
        assert (m.tax_code_sealed, m.iban_sealed) == (None, None)
        audit = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "member.erased", AuditEntry.actor_user_id == 41
                )
            )
        ).all()
        assert len(audit) == 1
        types = [
            e["type"]
            for e in (await session.execute(select(outbox.c.envelope))).scalars()
            if e["data"].get("user_id") == 41
        ]
        assert "membership.erased" in types and "membership.ended" in types
    # The manager still sees the period (ended), without the person's data.
    listed = await client.get(f"/api/cer/{cid}/members/?is_active=false", headers=auth(40))
    row = next(r for r in listed.json()["data"] if r["user_id"] == 41)
    assert row["erased"] and row["tax_code"] is None and row["username"] == "erased-41"
    # A plain profile change is not an erasure.
    await users.register(42, "fabio")
    await add_member(client, cid, 40, "fabio")
    plain = UserUpdated(
        user_id=42,
        username="fabio",
        email="fabio@example.it",
        first_name="Fabio",
        last_name="Rossi",
        user_type="PRIVATE",
        is_active=True,
        changed=["first_name"],
    )
    assert await users.consumer.handle(
        EventEnvelope.wrap(plain, producer="user", correlation_id=None)
    )
    async with sessionmaker() as session:
        m = await session.scalar(select(Membership).where(Membership.user_id == 42))
        assert m is not None and m.erased_at is None and m.valid_to is None


async def test_manager_corrects_the_start_of_a_current_period(
    client: httpx.AsyncClient, users: Users, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cid = (await new_community(client, 50))["id"]
    await users.register(51, "gaia")
    await add_member(client, cid, 50, "gaia", joined_on="2025-01-01")
    url = f"/api/cer/{cid}/members/51/"
    # Not after today, never overlapping the earlier period: refused at the field, nothing written.
    before = await _counts(sessionmaker)
    future = await client.put(url, json={"valid_from": "2999-01-01"}, headers=auth(50))
    assert future.status_code == 422, future.text
    assert future.json()["errors"][0]["field"] == "valid_from"
    assert await _counts(sessionmaker) == before
    # A member cannot correct their own period; a stranger sees nothing.
    assert (
        await client.put(url, json={"valid_from": "2025-02-01"}, headers=auth(51))
    ).status_code == 403
    assert (
        await client.put(url, json={"valid_from": "2025-02-01"}, headers=auth(59))
    ).status_code == 404

    moved = await client.put(url, json={"valid_from": "2025-03-01"}, headers=auth(50))
    assert moved.status_code == 200, moved.text
    assert moved.json()["data"]["valid_from"] == "2025-03-01"
    async with sessionmaker() as session:
        last = (
            await session.execute(select(outbox.c.envelope).order_by(outbox.c.id.desc()).limit(1))
        ).scalar_one()
        audit = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "member.updated")
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
    assert last["type"] == "membership.updated" and last["data"]["changed"] == ["valid_from"]
    assert last["data"]["valid_from"] == "2025-03-01"
    assert audit is not None and audit.before is not None
    assert audit.before["valid_from"] == "2025-01-01" and audit.after["valid_from"] == "2025-03-01"

    # She left and came back: the new period cannot start inside the old one.
    left = await client.delete(f"{url}?left_on=2025-06-01", headers=auth(50))
    assert left.status_code == 200, left.text
    await add_member(client, cid, 50, "gaia", joined_on="2025-09-01")
    overlap = await client.put(url, json={"valid_from": "2025-05-01"}, headers=auth(50))
    assert overlap.status_code == 409, overlap.text
    error = overlap.json()["errors"][0]
    assert error["field"] == "valid_from" and "2025-06-01" in error["expected"]
    fine = await client.put(url, json={"valid_from": "2025-06-01"}, headers=auth(50))
    assert fine.status_code == 200, fine.text
