"""Payouts end to end on real PostgreSQL: an approved month's balances paid by a SEPA
file, the bank's status report settling each transfer, the books balanced throughout."""

from __future__ import annotations

from decimal import Decimal
from xml.etree import ElementTree as ET

import httpx
import xmlschema
from cerc_sepa.credit_transfer import SCHEMA_FILE
from economic_service.models import JournalEntry, Payout, PayoutTransfer, outbox
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import Community, EnergyStandIn, auth
from .test_settlements import demo_community, settle_through_api

COMMUNITY_IBAN = "IT60X0542811101000000123456"
PRODUCER_IBAN = "IT41Y0542811101000000000777"
FIRM_IBAN = "DE89370400440532013000"
BAD_IBAN = "IT60X0542811101000000123457"  # one digit off: the check digits fail
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}


def pain002(original_message_id: str, *transactions: tuple[str, str, str]) -> bytes:
    body = "".join(
        f"<TxInfAndSts><StsId>S-{e2e}</StsId><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId>"
        f"<TxSts>{status}</TxSts>{extra}</TxInfAndSts>"
        for e2e, status, extra in transactions
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03">'
        "<CstmrPmtStsRpt><GrpHdr><MsgId>BANK-STS-1</MsgId>"
        "<CreDtTm>2025-08-01T08:00:00</CreDtTm></GrpHdr>"
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{original_message_id}</OrgnlMsgId>"
        "<OrgnlMsgNmId>pain.001.001.03</OrgnlMsgNmId><GrpSts>PART</GrpSts></OrgnlGrpInfAndSts>"
        f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>{original_message_id}-1</OrgnlPmtInfId>{body}"
        "</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"
    ).encode()


async def books(client: httpx.AsyncClient, c: Community) -> dict[tuple[str, int | None], Decimal]:
    rows = (
        await client.get(f"/api/economic/books/?community_id={c.id}", headers=auth(c.admin))
    ).json()["data"]
    balances = {(b["account"], b["user_id"]): Decimal(b["balance_eur"]) for b in rows}
    assert sum(balances.values()) == 0, f"the books do not balance: {balances}"
    return balances


async def counts(maker: async_sessionmaker[AsyncSession], c: Community) -> tuple[int, int, int]:
    async with maker() as session:
        payouts = await session.scalar(
            select(func.count()).select_from(Payout).where(Payout.community_id == c.id)
        )
        entries = await session.scalar(
            select(func.count()).select_from(JournalEntry).where(JournalEntry.community_id == c.id)
        )
        events = await session.scalar(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.topic == "payout.v1", outbox.c.key == str(c.id))
        )
    return int(payouts or 0), int(entries or 0), int(events or 0)


async def approved_month(
    client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession], stand_in: EnergyStandIn
) -> tuple[Community, dict[str, int], dict[int, Decimal]]:
    c, users, _ = await demo_community(maker, stand_in, official=True)
    run = await settle_through_api(client, c, "PROVISIONAL")
    assert run["status"] == "COMPLETED", run["errors"]
    final = await client.post(
        f"/api/economic/settlements/{run['id']}/approve/", headers=auth(c.admin)
    )
    assert final.status_code == 200, final.text
    owed = {m["user_id"]: Decimal(m["eur"]) for m in final.json()["data"]["members"]}
    return c, users, owed


async def test_a_payout_pays_approved_balances_and_the_status_report_settles_each_transfer(
    client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    stand_in = energy[0]
    c, users, owed = await approved_month(client, maker, stand_in)
    producer, firm, consumer, leaver = (
        users["producer"],
        users["firm"],
        users["consumer"],
        users["leaver"],
    )
    assert all(owed[u] > 0 for u in (producer, firm, consumer, leaver)), owed
    stand_in.payees[c.id] = [
        {"user_id": producer, "name": "Anna Bianchi", "iban": PRODUCER_IBAN},
        {"user_id": firm, "name": "Officina Rossi Srl", "iban": FIRM_IBAN},
        {"user_id": consumer, "name": "Comune", "iban": BAD_IBAN},
        {"user_id": leaver, "name": "Leo", "iban": None},
        {"user_id": c.admin, "name": "Admin", "iban": COMMUNITY_IBAN},
    ]
    body = {"community_id": c.id}

    # No account yet: a clear refusal, nothing written.
    missing = await client.post("/api/economic/payouts/", json=body, headers=auth(c.admin))
    assert missing.status_code == 409 and missing.json()["errors"][0]["code"] == (
        "payout_account_missing"
    )
    bad_account = await client.put(
        "/api/economic/payouts/account/",
        json={"community_id": c.id, "debtor_name": "CER", "iban": BAD_IBAN},
        headers=auth(c.admin),
    )
    assert bad_account.status_code == 422 and bad_account.json()["errors"][0]["field"] == "iban"
    assert (
        await client.get(
            f"/api/economic/payouts/account/?community_id={c.id}", headers=auth(c.admin)
        )
    ).status_code == 404
    account = {"community_id": c.id, "debtor_name": f"CER {c.id}", "iban": COMMUNITY_IBAN}
    member_put = await client.put(
        "/api/economic/payouts/account/", json=account, headers=auth(producer)
    )
    assert member_put.status_code == 403
    put = await client.put("/api/economic/payouts/account/", json=account, headers=auth(c.admin))
    assert put.status_code == 200, put.text

    # A member may not pay out; another community's admin does not see this one.
    assert (
        await client.post("/api/economic/payouts/", json=body, headers=auth(producer))
    ).status_code == 403
    other = Community(maker, stand_in)
    await other.create()
    assert (
        await client.post("/api/economic/payouts/", json=body, headers=auth(other.admin))
    ).status_code == 404
    past = await client.post(
        "/api/economic/payouts/",
        json={**body, "execution_date": "2020-01-01"},
        headers=auth(c.admin),
    )
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "execution_date"
    assert await counts(maker, c) == (0, 1, 0)

    created = await client.post("/api/economic/payouts/", json=body, headers=auth(c.admin))
    assert created.status_code == 201, created.text
    payout = created.json()["data"]
    paid = {t["user_id"]: Decimal(t["amount"]) for t in payout["transfers"]}
    assert paid == {producer: owed[producer], firm: owed[firm]}
    assert Decimal(payout["total"]) == owed[producer] + owed[firm]
    assert {(m["user_id"], m["reason"]) for m in payout["left_out"]} == {
        (consumer, "NO_VALID_IBAN"),
        (leaver, "NO_VALID_IBAN"),
    }
    balances = await books(client, c)
    assert balances[("MEMBER_PAYABLE", producer)] == 0
    assert balances[("MEMBER_PAYABLE", firm)] == 0
    assert balances[("MEMBER_PAYABLE", consumer)] == -owed[consumer]  # carried forward
    assert balances[("PAYOUTS_IN_TRANSIT", None)] == -Decimal(payout["total"])

    # The file: schema-valid pain.001, the community as debtor, one transfer each.
    for who in (producer, other.admin):
        refused = await client.get(payout["file_url"], headers=auth(who))
        assert refused.status_code == (403 if who == producer else 404)
    download = await client.get(payout["file_url"], headers=auth(c.admin))
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/xml")
    assert "attachment" in download.headers["content-disposition"]
    xmlschema.XMLSchema(str(SCHEMA_FILE)).validate(download.text)
    root = ET.fromstring(download.content)  # noqa: S314 - our own file, just validated
    assert (
        root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", namespaces=NS) == payout["message_id"]
    )
    assert Decimal(
        root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) or "0"
    ) == Decimal(payout["total"])
    info = root.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert info is not None
    assert info.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == COMMUNITY_IBAN
    in_file = {
        tx.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS): Decimal(
            tx.findtext("p:Amt/p:InstdAmt", namespaces=NS) or "0"
        )
        for tx in info.iterfind("p:CdtTrfTxInf", NS)
    }
    assert in_file == {PRODUCER_IBAN: owed[producer], FIRM_IBAN: owed[firm]}

    # Retried (the answer lost): nothing left to pay, nothing written.
    before = await counts(maker, c)
    assert before == (1, 2, 1)
    retried = await client.post("/api/economic/payouts/", json=body, headers=auth(c.admin))
    assert retried.status_code == 409 and retried.json()["errors"][0]["code"] == "nothing_to_pay"
    assert await counts(maker, c) == before

    # Bad status reports: a clear error naming the file, nothing changed.
    e2e = {t["user_id"]: t["end_to_end_id"] for t in payout["transfers"]}
    report_url = f"/api/economic/payouts/{payout['id']}/status-report/"
    for bad, says in (
        (b"<not-xml", "file"),
        (pain002("CERC-PAYOUT-0", (e2e[producer], "ACSC", "")), "answers message"),
        (pain002(payout["message_id"], ("CERC-T999999999", "ACSC", "")), "not a transfer"),
    ):
        answer = await client.post(
            report_url,
            files={"file": ("pain002.xml", bad, "application/xml")},
            headers=auth(c.admin),
        )
        assert answer.status_code == 422, answer.text
        error = answer.json()["errors"][0]
        assert error["field"] == "file" and (says == "file" or says in error["message"]), error
    assert await counts(maker, c) == before
    stranger = await client.post(
        report_url,
        files={"file": ("r.xml", pain002(payout["message_id"]), "application/xml")},
        headers=auth(other.admin),
    )
    assert stranger.status_code == 404

    report = pain002(
        payout["message_id"],
        (e2e[producer], "ACSC", ""),
        (
            e2e[firm],
            "RJCT",
            "<StsRsnInf><Rsn><Cd>AC04</Cd></Rsn><AddtlInf>Closed</AddtlInf></StsRsnInf>",
        ),
    )
    for attempt in range(2):
        applied = await client.post(
            report_url,
            files={"file": ("pain002.xml", report, "application/xml")},
            headers=auth(c.admin),
        )
        assert applied.status_code == 200, applied.text
        data = applied.json()["data"]
        if attempt == 0:
            assert (data["processed"], data["failed"], data["unchanged"]) == (1, 1, 0)
        else:  # the same report again changes nothing
            assert (data["processed"], data["failed"], data["unchanged"]) == (0, 0, 2)
        assert data["payout"]["status"] == "COMPLETED"
        statuses = {t["user_id"]: (t["status"], t["reason"]) for t in data["payout"]["transfers"]}
        assert statuses == {producer: ("PROCESSED", None), firm: ("FAILED", "AC04 Closed")}
        balances = await books(client, c)
        assert balances[("PAYOUTS_IN_TRANSIT", None)] == 0
        assert balances[("BANK", None)] == -owed[producer]
        assert balances[("MEMBER_PAYABLE", firm)] == -owed[firm]  # owed again
        assert balances[("MEMBER_PAYABLE", producer)] == 0
    assert await counts(maker, c) == (1, 4, 3)
    async with maker() as session:
        types = sorted(
            (
                await session.scalars(
                    select(outbox.c.type).where(
                        outbox.c.topic == "payout.v1", outbox.c.key == str(c.id)
                    )
                )
            ).all()
        )
    assert types == ["payout.created", "payout.transfer_failed", "payout.transfer_processed"]

    mine = (await client.get("/api/economic/members/me/", headers=auth(producer))).json()["data"]
    assert (Decimal(mine["paid_eur"]), Decimal(mine["payable_eur"])) == (owed[producer], 0)

    # The firm's amount is owed again; under the minimum it is carried forward.
    minimum = owed[firm] + Decimal("0.01")
    raised = await client.put(
        "/api/economic/payouts/account/",
        json={**account, "minimum_amount": str(minimum)},
        headers=auth(c.admin),
    )
    assert raised.status_code == 200
    under = await client.post("/api/economic/payouts/", json=body, headers=auth(c.admin))
    below = sum(1 for u in (firm, consumer, leaver) if owed[u] < minimum)
    assert under.status_code == 409
    assert (
        f"{3 - below} without a valid IBAN, {below} below the minimum"
        in (under.json()["errors"][0]["message"])
    )
    await client.put("/api/economic/payouts/account/", json=account, headers=auth(c.admin))
    again = await client.post("/api/economic/payouts/", json=body, headers=auth(c.admin))
    assert again.status_code == 201, again.text
    second = again.json()["data"]
    assert [(t["user_id"], Decimal(t["amount"])) for t in second["transfers"]] == [
        (firm, owed[firm])
    ]
    assert second["message_id"] != payout["message_id"]
    listed = (
        await client.get(f"/api/economic/payouts/?community_id={c.id}", headers=auth(c.admin))
    ).json()["data"]
    assert [p["id"] for p in listed] == [second["id"], payout["id"]]
    for url in (
        f"/api/economic/payouts/?community_id={c.id}",
        f"/api/economic/payouts/{payout['id']}/",
        f"/api/economic/payouts/account/?community_id={c.id}",
    ):
        assert (await client.get(url, headers=auth(other.admin))).status_code == 404, url
    await books(client, c)
    async with maker() as session:
        stored = await session.scalar(
            select(PayoutTransfer.iban_last4).where(PayoutTransfer.payout_id == second["id"])
        )
    assert stored == FIRM_IBAN[-4:]


async def test_payout_refused_when_the_registry_cannot_name_the_payees(
    client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c, _, _ = await approved_month(client, maker, energy[0])
    account = {"community_id": c.id, "debtor_name": "CER", "iban": COMMUNITY_IBAN}
    assert (
        await client.put("/api/economic/payouts/account/", json=account, headers=auth(c.admin))
    ).status_code == 200
    before = await counts(maker, c)
    # The stand-in knows no payees for this community: the CER service answers 404.
    answer = await client.post(
        "/api/economic/payouts/", json={"community_id": c.id}, headers=auth(c.admin)
    )
    assert answer.status_code == 503, answer.text
    assert answer.json()["errors"][0]["code"] == "registry_unavailable"
    assert await counts(maker, c) == before
    balances = await books(client, c)
    assert ("PAYOUTS_IN_TRANSIT", None) not in balances
