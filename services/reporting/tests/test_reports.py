"""Reports end to end: request (202), the job, the file read back and checked
against the settlement to the cent; who may ask and see what."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import httpx
from cerc_shared.testing import eventually
from openpyxl import load_workbook
from pypdf import PdfReader
from reporting_service.render.i18n import money

from .conftest import Community, StandIn, auth, new_id

MONTH = "2025-06"


async def made(client: httpx.AsyncClient, user: int, body: dict[str, Any]) -> dict[str, Any]:
    """Request a report, wait for its job to end, return the job."""
    response = await client.post("/api/reports/", json=body, headers=auth(user))
    assert response.status_code == 202, response.text
    job = response.json()["data"]
    assert response.headers["Location"] == f"/api/reports/{job['id']}/"
    assert job["status"] == "QUEUED"
    found: dict[str, Any] = {}

    async def ended() -> bool:
        answer = await client.get(f"/api/reports/{job['id']}/", headers=auth(user))
        found.update(answer.json()["data"])
        return bool(found["status"] in ("DONE", "FAILED"))

    await eventually(ended, f"report {job['id']} done", timeout_s=60)
    return found


async def download(client: httpx.AsyncClient, user: int, job: dict[str, Any]) -> bytes:
    response = await client.get(f"/api/reports/{job['id']}/file", headers=auth(user))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(job["content_type"].split(";")[0])
    return response.content


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


async def test_monthly_report_pdf_shows_the_settlement_to_the_cent(
    client: httpx.AsyncClient, maker: Any, stand_in: tuple[StandIn, int]
) -> None:
    c = Community(maker, stand_in[0])
    sample = await c.create(MONTH)
    job = await made(
        client,
        c.admin,
        {"kind": "MONTHLY_COMMUNITY", "community_id": c.id, "period": MONTH, "format": "PDF"},
    )
    assert job["status"] == "DONE", job
    assert job["download"] == f"/api/reports/{job['id']}/file"
    text = pdf_text(await download(client, c.admin, job))
    run = sample.run
    assert "Rapporto mensile della comunità" in text
    # Italian figures, as babel writes them: "1.234,56 €" (a no-break space before €).
    for cents in (run.total_cents, run.incentive_cents, run.refund_cents, run.community_cents):
        assert money(cents, "it") in text, money(cents, "it")
    members_total = sum(m.cents for m in run.members)
    assert members_total + run.community_cents == sample.settlement_total_cents
    assert money(members_total, "it") in text
    for m in run.members[:3]:
        assert f"#{m.user_id}" in text


async def test_monthly_report_xlsx_and_csv_add_up_to_the_settlement(
    client: httpx.AsyncClient, maker: Any, stand_in: tuple[StandIn, int]
) -> None:
    c = Community(maker, stand_in[0])
    sample = await c.create(MONTH)
    run = sample.run
    body = {"kind": "MONTHLY_COMMUNITY", "community_id": c.id, "period": MONTH, "language": "en"}
    xlsx_job = await made(client, c.admin, {**body, "format": "XLSX"})
    book = load_workbook(io.BytesIO(await download(client, c.admin, xlsx_job)))
    members = list(book["members"].iter_rows(min_row=3, values_only=True))
    rows, total = members[:-1], members[-1]
    assert total[0] == "Total"
    assert len(rows) == len(run.members)
    # Every member's cents, and their sum, as the settlement has them.
    assert [Decimal(str(r[5])) * 100 for r in rows] == [m.cents for m in run.members]
    assert Decimal(str(total[5])) * 100 == sum(m.cents for m in run.members)
    assert Decimal(str(total[3])) * 100 == sum(m.as_producer_cents for m in run.members)
    # Produced and consumed, as the energy service aggregates the days.
    production = list(book["production_by_day"].iter_rows(min_row=3, values_only=True))
    produced = sum(round(d["produced_kwh"] * 1000) for d in sample.days_answer)
    assert len(production) == len(sample.days_answer) + 1
    assert Decimal(str(production[-1][1])) * 1000 == produced
    substations = list(book["substations"].iter_rows(min_row=3, values_only=True))
    assert Decimal(str(substations[-1][4])) * 100 == run.incentive_cents
    assert Decimal(str(substations[-1][5])) * 100 == run.refund_cents

    csv_job = await made(client, c.admin, {**body, "format": "CSV"})
    lines = list(
        csv.reader(io.StringIO((await download(client, c.admin, csv_job)).decode("utf-8-sig")))
    )
    money_block = lines[lines.index(["# money", "Incentive, refund and excess"]) + 2 :]
    figures = {row[0]: row[1] for row in money_block[:6]}
    assert Decimal(figures["Total"]) * 100 == sample.settlement_total_cents
    assert Decimal(figures["Community fund"]) * 100 == run.community_cents


async def test_member_statement_is_the_members_own(
    client: httpx.AsyncClient, maker: Any, stand_in: tuple[StandIn, int]
) -> None:
    c = Community(maker, stand_in[0])
    sample = await c.create(MONTH)
    producer = next(m for m in sample.run.members if m.as_producer_cents > 0)
    other = next(m for m in sample.run.members if m.user_id != producer.user_id)
    job = await made(
        client,
        producer.user_id,
        {"kind": "MEMBER_STATEMENT", "community_id": c.id, "period": MONTH, "format": "XLSX"},
    )
    assert job["status"] == "DONE", job
    assert job["member_user_id"] == producer.user_id
    book = load_workbook(io.BytesIO(await download(client, producer.user_id, job)))
    earned = list(book["earned"].iter_rows(min_row=3, values_only=True))
    assert Decimal(str(earned[0][2])) * 100 == producer.as_producer_cents
    assert Decimal(str(earned[-1][4])) * 100 == producer.cents
    # Another member of the same community: not theirs to see, nor to know of.
    for path in (f"/api/reports/{job['id']}/", f"/api/reports/{job['id']}/file"):
        assert (await client.get(path, headers=auth(other.user_id))).status_code == 404
    # The community's admin may read it.
    assert (
        await client.get(f"/api/reports/{job['id']}/file", headers=auth(c.admin))
    ).status_code == 200
    # A member asking for another member's statement: 404.
    response = await client.post(
        "/api/reports/",
        json={
            "kind": "MEMBER_STATEMENT",
            "community_id": c.id,
            "period": MONTH,
            "member_user_id": producer.user_id,
        },
        headers=auth(other.user_id),
    )
    assert response.status_code == 404
    # The member's list holds their own statements only; the admin's, every report.
    mine = await client.get(f"/api/reports/?community_id={c.id}", headers=auth(producer.user_id))
    assert [j["id"] for j in mine.json()["data"]] == [job["id"]]
    theirs = await client.get(
        f"/api/economic/reports/?community_id={c.id}", headers=auth(other.user_id)
    )
    assert theirs.json()["data"] == []
    everything = await client.get(
        f"/api/economic/reports/?community_id={c.id}", headers=auth(c.admin)
    )
    assert everything.json()["meta"]["total"] == 1


async def test_member_statement_pdf_in_english(
    client: httpx.AsyncClient, maker: Any, stand_in: tuple[StandIn, int]
) -> None:
    c = Community(maker, stand_in[0])
    sample = await c.create(MONTH)
    member = sample.run.members[1]
    job = await made(
        client,
        member.user_id,
        {
            "kind": "MEMBER_STATEMENT",
            "community_id": c.id,
            "period": MONTH,
            "format": "PDF",
            "language": "en",
        },
    )
    text = pdf_text(await download(client, member.user_id, job))
    assert "Member statement" in text
    assert money(member.cents, "en") in text


async def test_who_may_ask_for_a_community_report(
    client: httpx.AsyncClient, maker: Any, stand_in: tuple[StandIn, int]
) -> None:
    c = Community(maker, stand_in[0])
    sample = await c.create(MONTH)
    member = sample.run.members[0].user_id
    body = {"kind": "MONTHLY_COMMUNITY", "community_id": c.id, "period": MONTH}
    # A member of the community: 403; a member of another community: 404.
    response = await client.post("/api/reports/", json=body, headers=auth(member))
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "forbidden"
    d = Community(maker, stand_in[0])
    other_sample = await d.create(MONTH, members=3)
    stranger = other_sample.run.members[0].user_id
    assert (
        await client.post("/api/reports/", json=body, headers=auth(stranger))
    ).status_code == 404
    job = await made(client, c.admin, body)
    for path in (f"/api/reports/{job['id']}/", f"/api/reports/{job['id']}/file"):
        assert (await client.get(path, headers=auth(stranger))).status_code == 404
        assert (await client.get(path, headers=auth(d.admin))).status_code == 404
    listing = await client.get(f"/api/reports/?community_id={c.id}", headers=auth(stranger))
    assert listing.status_code == 404
    # A monthly report of a year: refused, naming the field and what was expected.
    response = await client.post(
        "/api/reports/", json={**body, "period": "2025"}, headers=auth(c.admin)
    )
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["field"], error["expected"]) == ("period", "YYYY-MM")


async def test_annual_report_sums_the_years_runs(
    client: httpx.AsyncClient, maker: Any, stand_in: tuple[StandIn, int]
) -> None:
    c = Community(maker, stand_in[0])
    sample = await c.create(MONTH)
    stand_in[0].transactions[c.id] = [
        {
            "id": new_id(),
            "kind": "GSE_PAYMENT",
            "status": "PROCESSED",
            "amount_cents": sample.settlement_total_cents - 1,
            "user_id": None,
            "reference": "GSE-2025-06",
            "description": "",
            "created_at": "2025-08-01T10:00:00+00:00",
            "processed_at": "2025-08-02T10:00:00+00:00",
        }
    ]
    job = await made(
        client,
        c.admin,
        {"kind": "ANNUAL", "community_id": c.id, "period": "2025", "format": "XLSX"},
    )
    book = load_workbook(io.BytesIO(await download(client, c.admin, job)))
    settlements = list(book["settlements"].iter_rows(min_row=3, values_only=True))
    assert Decimal(str(settlements[-1][5])) * 100 == sample.settlement_total_cents
    distribution = list(book["distribution"].iter_rows(min_row=3, values_only=True))
    assert Decimal(str(distribution[-1][3])) * 100 == sum(m.cents for m in sample.run.members)


async def test_a_service_that_does_not_answer_fails_the_job(
    client: httpx.AsyncClient, maker: Any, stand_in: tuple[StandIn, int]
) -> None:
    c = Community(maker, stand_in[0])
    await c.create(MONTH, members=3)
    stand_in[0].failing.add(c.id)
    job = await made(
        client, c.admin, {"kind": "MONTHLY_COMMUNITY", "community_id": c.id, "period": MONTH}
    )
    assert job["status"] == "FAILED"
    assert "503" in job["error"]
    response = await client.get(f"/api/reports/{job['id']}/file", headers=auth(c.admin))
    assert response.status_code == 409


async def test_bad_requests_are_refused_naming_the_field_and_nothing_is_queued(
    client: httpx.AsyncClient, maker: Any, stand_in: tuple[StandIn, int]
) -> None:
    c = Community(maker, stand_in[0])
    await c.create(MONTH, members=3)
    good = {"kind": "MONTHLY_COMMUNITY", "community_id": c.id, "period": MONTH}
    for change, field in (
        ({"kind": "WEEKLY"}, "kind"),
        ({"period": "2025-13"}, "period"),
        ({"format": "DOCX"}, "format"),
        ({"language": "de"}, "language"),
        ({"community_id": 2**63}, "community_id"),
        ({"colour": "green"}, "colour"),
    ):
        response = await client.post(
            "/api/reports/", json={**good, **change}, headers=auth(c.admin)
        )
        assert response.status_code == 422, (change, response.text)
        assert response.json()["errors"][0]["field"] == field, response.json()
    assert (await client.get(f"/api/reports/{2**63}/", headers=auth(c.admin))).status_code == 422
    assert (await client.get("/api/reports/", headers=auth(c.admin))).status_code == 422
    listing = await client.get(f"/api/reports/?community_id={c.id}", headers=auth(c.admin))
    assert listing.json()["meta"]["total"] == 0
    # No token: 401.
    assert (await client.post("/api/reports/", json=good)).status_code == 401
