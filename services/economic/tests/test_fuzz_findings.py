"""What fuzzing the service found (item 13 of issue 12), each a regression test: ids
beyond PostgreSQL's BIGINT are a 422 naming the field (the driver failed: a 500), and a
rule parameter added twice at the same moment is a 409 for the slower one (the unique
key failed at commit: a 500)."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import pytest
from economic_service.models import AuditRecord, GseCredential, RuleParameter
from economic_service.service.gse.imports import Problems, read_rows
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import Community, EnergyStandIn, auth, new_id

TOO_BIG = 2**63  # one beyond BIGINT


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/economic/settlements/",
         {"community_id": TOO_BIG, "period": "2025-06", "kind": "ESTIMATE"}),
        ("GET", f"/api/economic/settlements/?community_id={TOO_BIG}", None),
        ("GET", f"/api/economic/books/?community_id={TOO_BIG}", None),
        # Found by the fuzzer through the gateway: a 500 from the driver.
        ("POST", f"/api/economic/transactions/{TOO_BIG}/status/", {"status": "FAILED"}),
        ("GET", f"/api/economic/settlements/{TOO_BIG}/", None),
        ("POST", f"/api/economic/settlements/{TOO_BIG}/approve/", None),
        ("GET", f"/api/economic/benefits/?community_id={TOO_BIG}", None),
        ("GET", f"/api/economic/transactions/?community_id={TOO_BIG}", None),
        ("POST", "/api/economic/transactions/",
         {"community_id": TOO_BIG, "kind": "FEE", "amount": "1.00"}),
        ("POST", "/api/economic/transactions/",
         {"community_id": 1, "kind": "FEE", "amount": "1.00", "user_id": TOO_BIG}),
        ("PUT", "/api/economic/payouts/account/",
         {"community_id": TOO_BIG, "debtor_name": "CER", "iban": "IT60X0542811101000000123456"}),
        ("POST", "/api/economic/payouts/", {"community_id": TOO_BIG}),
        ("POST", "/api/economic/fees/",
         {"community_id": TOO_BIG, "valid_from": "2025-01-01", "kind": "PERCENT",
          "percent": "5"}),
    ],
)  # fmt: skip
async def test_an_id_beyond_bigint_is_refused_naming_the_field(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, object] | None
) -> None:
    response = await client.request(method, path, json=body, headers=auth(new_id()))
    assert response.status_code == 422, response.text
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields & {"community_id", "user_id", "tx_id", "run_id"}, fields


@pytest.mark.parametrize("period", ["0000-01", "9999-12"])
async def test_a_month_outside_the_calendar_is_a_422_not_a_500(
    client: httpx.AsyncClient, period: str
) -> None:
    # Found by the fuzzer through the gateway: {"community_id": 2, "period": "0000-01"}.
    response = await client.post(
        "/api/economic/settlements/",
        json={"community_id": 1, "period": period, "kind": "ESTIMATE"},
        headers=auth(new_id()),
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["period"]


async def test_a_parameter_added_twice_at_once_is_a_409_not_a_500(
    client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession]
) -> None:
    admin = auth(new_id(), "ADMIN")
    # A year nobody else uses: TRASe rows are set per 1 January.
    valid_from = date(2200 + new_id() % 700, 1, 1)
    body = {"name": "trase_eur_mwh", "valid_from": valid_from.isoformat(), "value": "10.50",
            "source": "test: two admins at once"}  # fmt: skip
    try:
        answers = await asyncio.gather(
            *(client.post("/api/economic/parameters/", json=body, headers=admin) for _ in range(4))
        )
        statuses = sorted(a.status_code for a in answers)
        # One creates it; the others either meet it on the key (409) or, arriving after
        # its commit, change it to the same value (200). Never a 500.
        assert statuses.count(201) == 1, [(a.status_code, a.text[:300]) for a in answers]
        assert set(statuses) <= {200, 201, 409}, statuses
        for conflict in (a for a in answers if a.status_code == 409):
            (error,) = conflict.json()["errors"]
            assert (error["code"], error["field"]) == ("conflict", "valid_from")
    finally:
        async with maker() as session, session.begin():
            await session.execute(
                delete(RuleParameter).where(
                    RuleParameter.name == "trase_eur_mwh", RuleParameter.valid_from == valid_from
                )
            )
            await session.execute(
                delete(AuditRecord).where(
                    AuditRecord.action == "parameter.set",
                    AuditRecord.details["valid_from"].astext == valid_from.isoformat(),
                )
            )


def test_a_gse_csv_with_a_lone_carriage_return_is_read_not_a_500() -> None:
    # Found by the fuzzer through the gateway (POST /api/economic/gse/imports/ with a file
    # of random bytes): csv.Error "new-line character seen in unquoted field", a 500.
    problems = Problems("f.csv")
    assert read_rows("f.csv", b"a,b\rc,d\n", problems) == [["a", "b"], ["c", "d"]]
    assert problems.items == []


def test_an_unreadable_gse_csv_is_a_problem_not_a_500() -> None:
    problems = Problems("f.csv")
    assert read_rows("f.csv", b'a,"' + b"x" * 200_000, problems) == []
    (problem,) = problems.items
    assert problem.expected == "a CSV file"


async def test_text_with_a_nul_character_is_a_422_not_a_500(
    client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    # Found by the gateway fuzzing: PUT /api/economic/gse/credentials/ with a
    # NUL in client_id reached PostgreSQL, which stores no U+0000 in text.
    community = Community(maker, energy[0])
    await community.create()
    body = {"community_id": community.id, "client_id": "cer\x00gse", "client_secret": "s3cret-gse"}
    refused = await client.put(
        "/api/economic/gse/credentials/", json=body, headers=auth(community.admin)
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["code"] == "invalid_character"
    async with maker() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(GseCredential)
            .where(GseCredential.community_id == community.id)
        )
    assert stored == 0
    body["client_id"] = "cer-gse"
    assert (
        await client.put("/api/economic/gse/credentials/", json=body, headers=auth(community.admin))
    ).status_code == 200
