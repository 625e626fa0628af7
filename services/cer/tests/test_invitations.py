"""Invitations (issue 12, item 7): nobody joins a community without consenting.
A manager invites an e-mail address and learns nothing about it; the person
signed in with that address accepts; only then does the membership begin, with
the same event, audit entry and checks as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cer_service.models import AuditEntry, Invitation, Membership, outbox
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import IBAN, TAX_CODE, Users, auth, member_body, new_community

FOUNDER, ANNA, BRUNO, STRANGER = 10, 20, 21, 22


async def _invite(
    client: httpx.AsyncClient, cid: int, email: str, by: int = FOUNDER, **terms: Any
) -> httpx.Response:
    return await client.post(
        f"/api/cer/{cid}/invitations/", json={"email": email, **terms}, headers=auth(by)
    )


async def _accept(
    client: httpx.AsyncClient, reference: int | str, user: int, **facts: Any
) -> httpx.Response:
    return await client.post(
        f"/api/cer/invitations/{reference}/accept/", json=facts or None, headers=auth(user)
    )


async def _counts(maker: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    async with maker() as session:
        members = await session.scalar(select(func.count()).select_from(Membership))
        audit = await session.scalar(select(func.count()).select_from(AuditEntry))
        events = await session.scalar(select(func.count()).select_from(outbox))
        return int(members or 0), int(audit or 0), int(events or 0)


async def test_same_answer_whether_or_not_the_address_has_an_account(
    client: httpx.AsyncClient, users: Users, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cid = (await new_community(client, FOUNDER))["id"]
    await users.register(ANNA, "anna", first_name="Anna", last_name="Bianchi")
    known = await _invite(client, cid, "anna@example.it")
    unknown = await _invite(client, cid, "nobody@example.it")
    assert known.status_code == unknown.status_code == 202, known.text

    def shape(response: httpx.Response) -> dict[str, Any]:
        body: dict[str, Any] = response.json()
        data = {k: v for k, v in body["data"].items() if k not in ("invitation_id", "email")}
        data["expires_at"] = data["expires_at"][:10]
        return {**body, "data": data}

    assert shape(known) == shape(unknown)
    assert known.json()["data"]["email"] == "anna@example.it"
    # Both go out to be mailed, alike: the event does not say which has an account.
    async with sessionmaker() as session:
        sent = [
            row.envelope["data"]
            for row in await session.execute(
                select(outbox.c.envelope).where(outbox.c.type == "invitation.created")
            )
        ]
    assert sorted(e["email"] for e in sent) == ["anna@example.it", "nobody@example.it"]
    first, second = (sorted(e) for e in sent)
    assert first == second
    assert all(
        e["accept_path"].startswith("/api/cer/invitations/") and "user_id" not in e for e in sent
    )


async def test_the_manager_sees_only_the_address_typed(
    client: httpx.AsyncClient, users: Users, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cid = (await new_community(client, FOUNDER))["id"]
    annalisa = 987654  # an id no count or page size in the answers could equal
    await users.register(annalisa, "annab", email="anna.b@example.it", first_name="Annalisa",
                         last_name="Bianchi")  # fmt: skip
    assert (await _invite(client, cid, "Anna.B@Example.it", role="VIEWER")).status_code == 202
    listed = await client.get(f"/api/cer/{cid}/invitations/", headers=auth(FOUNDER))
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["data"]
    assert listed.json()["meta"] == {"page": 1, "per_page": 20, "total": 1}
    assert item["email"] == "Anna.B@Example.it" and item["status"] == "PENDING"
    assert item["role"] == "VIEWER" and "user_id" not in item
    audit = await client.get(f"/api/cer/{cid}/audit/?entity_type=invitation", headers=auth(FOUNDER))
    assert [e["action"] for e in audit.json()["data"]] == ["invitation.sent"]
    for text in (listed.text, audit.text):
        for secret in ("annab", "Annalisa", "Bianchi", str(annalisa)):
            assert secret.lower() not in text.lower(), (secret, text)
    # The invitee's members page entry does not exist yet either.
    members = await client.get(f"/api/cer/{cid}/members/", headers=auth(FOUNDER))
    assert [m["user_id"] for m in members.json()["data"]] == [FOUNDER]


async def test_acceptance_creates_the_membership_with_its_event_and_audit(
    client: httpx.AsyncClient, users: Users, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cid = (await new_community(client, FOUNDER))["id"]
    await users.register(ANNA, "anna")
    await _invite(client, cid, "ANNA@example.it", joined_on="2025-03-01")
    mine = await client.get("/api/cer/invitations/mine/", headers=auth(ANNA))
    assert mine.status_code == 200, mine.text
    [invitation] = mine.json()["data"]
    assert invitation["community_name"] == "CER Milano Centro" and invitation["role"] == "MEMBER"
    assert (await client.get("/api/cer/invitations/mine/", headers=auth(BRUNO))).json()[
        "data"
    ] == []

    # A private MEMBER needs a codice fiscale: the rules of add-member hold, nothing written.
    before = await _counts(sessionmaker)
    missing = await _accept(client, invitation["invitation_id"], ANNA)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["code"] == "tax_code_required"
    assert await _counts(sessionmaker) == before

    joined = await _accept(client, invitation["invitation_id"], ANNA, tax_code=TAX_CODE, iban=IBAN)
    assert joined.status_code == 201, joined.text
    member = joined.json()["data"]
    assert (member["user_id"], member["community_id"], member["valid_from"]) == (
        ANNA,
        cid,
        "2025-03-01",
    )
    assert member["tax_code"] == TAX_CODE
    async with sessionmaker() as session:
        started = [
            row.envelope["data"]
            for row in await session.execute(
                select(outbox.c.envelope).where(outbox.c.type == "membership.started")
            )
        ]
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.community_id == cid)
                .order_by(AuditEntry.id)
            )
        )
        stored = await session.scalar(select(Membership).where(Membership.user_id == ANNA))
    assert [(e["user_id"], e["role"]) for e in started] == [(FOUNDER, "ADMIN"), (ANNA, "MEMBER")]
    assert actions[-3:] == ["invitation.sent", "member.added", "invitation.accepted"]
    assert stored is not None and TAX_CODE not in (stored.tax_code_sealed or "")
    # Now a member, the manager sees who joined; the invitation is used up.
    members = await client.get(f"/api/cer/{cid}/members/", headers=auth(FOUNDER))
    assert [(m["user_id"], m["username"]) for m in members.json()["data"]][-1] == (ANNA, "anna")
    listed = await client.get(f"/api/cer/{cid}/invitations/", headers=auth(FOUNDER))
    assert listed.json()["data"][0]["status"] == "ACCEPTED"
    again = await _accept(client, invitation["invitation_id"], ANNA, tax_code=TAX_CODE)
    assert (again.status_code, again.json()["errors"][0]["code"]) == (409, "invitation_accepted")
    assert (await client.get("/api/cer/invitations/mine/", headers=auth(ANNA))).json()["data"] == []


async def test_only_the_addressee_accepts(
    client: httpx.AsyncClient, users: Users, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cid = (await new_community(client, FOUNDER))["id"]
    await users.register(ANNA, "anna")
    await users.register(BRUNO, "bruno")
    await _invite(client, cid, "anna@example.it", role="VIEWER")
    async with sessionmaker() as session:
        invitation = await session.scalar(select(Invitation))
        assert invitation is not None
        [sent] = [
            row.envelope["data"]
            for row in await session.execute(
                select(outbox.c.envelope).where(outbox.c.type == "invitation.created")
            )
        ]
    token = sent["accept_path"].split("/")[-3]
    before = await _counts(sessionmaker)
    for reference in (invitation.id, token):
        # Bruno, signed in, holding the link or guessing the id: it does not exist for him.
        stolen = await _accept(client, reference, BRUNO)
        assert stolen.status_code == 404, stolen.text
        # Nor for an account the service has never heard of.
        assert (await _accept(client, reference, STRANGER)).status_code == 404
    assert (await _accept(client, "not-a-real-token-" + "x" * 26, ANNA)).status_code == 404
    assert await _counts(sessionmaker) == before
    # The link's token works for the addressee.
    joined = await _accept(client, token, ANNA)
    assert joined.status_code == 201, joined.text
    assert joined.json()["data"]["role"] == "VIEWER"


async def test_revoked_and_expired_invitations_are_refused(
    client: httpx.AsyncClient, users: Users, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cid = (await new_community(client, FOUNDER))["id"]
    await users.register(ANNA, "anna")
    await users.register(BRUNO, "bruno")
    first = (await _invite(client, cid, "anna@example.it", role="VIEWER")).json()["data"]
    second = (await _invite(client, cid, "bruno@example.it", role="VIEWER")).json()["data"]

    path = f"/api/cer/{cid}/invitations/{first['invitation_id']}/"
    # Only a manager of this community revokes.
    assert (await client.delete(path, headers=auth(ANNA))).status_code == 404
    revoked = await client.delete(path, headers=auth(FOUNDER))
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["data"]["status"] == "REVOKED"
    assert (await client.get("/api/cer/invitations/mine/", headers=auth(ANNA))).json()["data"] == []
    refused = await _accept(client, first["invitation_id"], ANNA)
    assert (refused.status_code, refused.json()["errors"][0]["code"]) == (409, "invitation_revoked")

    async with sessionmaker() as session:
        await session.execute(
            update(Invitation)
            .where(Invitation.id == second["invitation_id"])
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        await session.commit()
    assert (await client.get("/api/cer/invitations/mine/", headers=auth(BRUNO))).json()[
        "data"
    ] == []
    expired = await _accept(client, second["invitation_id"], BRUNO)
    assert (expired.status_code, expired.json()["errors"][0]["code"]) == (410, "invitation_expired")
    listed = await client.get(f"/api/cer/{cid}/invitations/", headers=auth(FOUNDER))
    assert [i["status"] for i in listed.json()["data"]] == ["EXPIRED", "REVOKED"]
    async with sessionmaker() as session:
        joined = await session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.user_id.in_([ANNA, BRUNO]))
        )
        actions = list(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.entity_type == "invitation")
            )
        )
    assert joined == 0
    assert sorted(actions) == ["invitation.revoked", "invitation.sent", "invitation.sent"]


async def test_invitations_expire_after_fourteen_days_by_default(
    client: httpx.AsyncClient,
) -> None:
    cid = (await new_community(client, FOUNDER))["id"]
    sent = (await _invite(client, cid, "anna@example.it")).json()["data"]
    expires = datetime.fromisoformat(sent["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=14))) < timedelta(minutes=1)


async def test_a_community_admin_can_no_longer_add_people_directly(
    client: httpx.AsyncClient, users: Users, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cid = (await new_community(client, FOUNDER))["id"]
    await users.register(ANNA, "anna", first_name="Annalisa")
    before = await _counts(sessionmaker)
    for reference in ({"username": "anna"}, {"email": "anna@example.it"}, {"user_id": ANNA}):
        body = {**member_body("anna", username=None), **reference}
        response = await client.post(f"/api/cer/{cid}/members/", json=body, headers=auth(FOUNDER))
        assert response.status_code == 403, response.text
        assert "Annalisa" not in response.text and "anna@" not in response.text
    assert await _counts(sessionmaker) == before
    # A member cannot invite either; the founder (an admin) can.
    await client.post(
        f"/api/cer/{cid}/members/", json=member_body("anna"), headers=auth(1, "ADMIN")
    )
    assert (await _invite(client, cid, "x@example.it", by=ANNA)).status_code == 403
    assert (await _invite(client, cid, "x@example.it", by=FOUNDER)).status_code == 202
