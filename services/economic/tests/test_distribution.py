"""Management fees, ``POST /distribute/`` and adjustments in the books, on real PostgreSQL."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import httpx
from economic_service.models import AuditRecord, JournalEntry, ManagementFee
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import Community, EnergyStandIn, auth
from .test_payouts import books
from .test_settlements import MONTH, demo_community, settle_through_api


async def entries(maker: async_sessionmaker[AsyncSession], c: Community) -> list[str]:
    async with maker() as session:
        return sorted(
            (
                await session.scalars(
                    select(JournalEntry.kind).where(JournalEntry.community_id == c.id)
                )
            ).all()
        )


async def test_fees_are_deducted_once_when_a_month_posts_and_adjustments_post_the_difference(
    client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    stand_in = energy[0]
    c, users, hours = await demo_community(maker, stand_in, official=True)
    fee_url = "/api/economic/fees/"
    fee = {"community_id": c.id, "valid_from": "2024-01-01", "kind": "PERCENT", "percent": "7.5"}

    # Bad fees are refused naming the field, and nothing is written.
    other = Community(maker, stand_in)
    await other.create()
    for body, who, status, field in (
        ({**fee, "percent": None}, c.admin, 422, "percent"),
        ({**fee, "percent": "150"}, c.admin, 422, "percent"),
        ({**fee, "kind": "FIXED_PER_MEMBER", "percent": None}, c.admin, 422, "amount"),
        (fee, users["producer"], 403, None),
        (fee, other.admin, 404, None),
    ):
        refused = await client.post(fee_url, json=body, headers=auth(who))
        assert refused.status_code == status, refused.text
        if field:
            assert refused.json()["errors"][0]["field"] == field
    async with maker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(ManagementFee)
            .where(ManagementFee.community_id == c.id)
        )
    assert count == 0
    assert (await client.post(fee_url, json=fee, headers=auth(c.admin))).status_code == 201
    again = await client.post(fee_url, json=fee, headers=auth(c.admin))
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "valid_from"
    # A later fee does not apply to this month.
    later = {**fee, "valid_from": "2024-07-01", "kind": "FIXED_PER_MEMBER", "amount": "1.00"}
    later.pop("percent")
    assert (await client.post(fee_url, json=later, headers=auth(c.admin))).status_code == 201
    listed = (await client.get(f"{fee_url}?community_id={c.id}", headers=auth(c.admin))).json()
    assert [f["kind"] for f in listed["data"]] == ["PERCENT", "FIXED_PER_MEMBER"]

    run = await settle_through_api(client, c, "PROVISIONAL")
    for _ in range(2):  # an approval retried posts once
        approved = await client.post(
            f"/api/economic/settlements/{run['id']}/approve/", headers=auth(c.admin)
        )
        assert approved.status_code == 200
    final = approved.json()["data"]
    cents = {m["user_id"]: int(Decimal(m["eur"]) * 100) for m in final["members"]}
    fees = {
        u: int((Decimal(v) * Decimal("0.075")).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        for u, v in cents.items()
    }
    assert sum(fees.values()) > 0
    balances = await books(client, c)
    assert balances[("FEES", None)] == -Decimal(sum(fees.values())) / 100
    for user, owed in cents.items():
        assert balances[("MEMBER_PAYABLE", user)] == -Decimal(owed - fees[user]) / 100
    assert await entries(maker, c) == ["FEE", "SETTLEMENT_DISTRIBUTION"]

    # distribute: the FINAL run is in the books already; nothing more is posted.
    distribute = "/api/economic/distribute/"
    posted = await client.post(distribute, json={"run_id": final["id"]}, headers=auth(c.admin))
    assert posted.status_code == 200 and posted.json()["data"]["posted_now"] is False
    for who, status in ((users["producer"], 403), (other.admin, 404)):
        refused = await client.post(distribute, json={"run_id": final["id"]}, headers=auth(who))
        assert refused.status_code == status
    not_approved = await client.post(distribute, json={"run_id": run["id"]}, headers=auth(c.admin))
    assert not_approved.status_code == 409 and not_approved.json()["errors"][0]["field"] == "run_id"
    assert await entries(maker, c) == ["FEE", "SETTLEMENT_DISTRIBUTION"]

    # Corrected data: the producer fed in more. The ADJUSTMENT posts only the difference.
    producer_pod = next(p["pod"] for p in c.plants if p["owner_user_id"] == users["producer"])
    for row in hours[producer_pod]:
        row["fed_in_kwh"] = f"{float(row['fed_in_kwh']) * 1.2:.3f}"
    c.set_energy(MONTH, hours, official_complete=True)
    adjustment = await settle_through_api(client, c, "ADJUSTMENT")
    assert adjustment["status"] == "COMPLETED", adjustment["errors"]
    delta = Decimal(adjustment["total_eur"]) - Decimal(final["total_eur"])
    assert delta > 0
    assert await entries(maker, c) == ["FEE", "SETTLEMENT_DISTRIBUTION"]  # not posted by itself
    for attempt in range(2):
        answer = await client.post(
            distribute, json={"run_id": adjustment["id"]}, headers=auth(c.admin)
        )
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        assert data["posted_now"] is (attempt == 0)
        assert Decimal(data["difference_eur"]) == (delta if attempt == 0 else 0)
    balances = await books(client, c)
    assert balances[("GSE_RECEIVABLE", None)] == Decimal(adjustment["total_eur"])
    assert balances[("COMMUNITY_FUND", None)] == -Decimal(adjustment["community_eur"])
    adjusted = {m["user_id"]: int(Decimal(m["eur"]) * 100) for m in adjustment["members"]}
    for user, owed in adjusted.items():
        assert balances[("MEMBER_PAYABLE", user)] == -Decimal(owed - fees[user]) / 100
    assert await entries(maker, c) == ["FEE", "SETTLEMENT_ADJUSTMENT", "SETTLEMENT_DISTRIBUTION"]
    async with maker() as session:
        actions = (
            await session.scalars(
                select(AuditRecord.action).where(AuditRecord.community_id == c.id)
            )
        ).all()
    assert sorted(set(actions)) == ["adjustment.posted", "distribution.again", "fee.set"]


async def test_manual_postings_are_audited(
    client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c = Community(maker, energy[0])
    await c.create()
    created = await client.post(
        "/api/economic/transactions/",
        json={"community_id": c.id, "kind": "GSE_PAYMENT", "amount": "50.00"},
        headers=auth(c.admin),
    )
    assert created.status_code == 201
    tx = created.json()["data"]
    await client.post(
        f"/api/economic/transactions/{tx['id']}/status/",
        json={"status": "PROCESSED"},
        headers=auth(c.admin),
    )
    async with maker() as session:
        audit = (
            await session.execute(
                select(AuditRecord.action, AuditRecord.actor_user_id).where(
                    AuditRecord.community_id == c.id
                )
            )
        ).all()
    assert sorted(audit) == [("transaction.created", c.admin), ("transaction.processed", c.admin)]
    await books(client, c)
