"""Settlement runs end to end: request (202), the job, the run, approval, the books."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from cerc_shared.testing import eventually
from economic_service.models import JournalEntry, Posting, SettlementRun, outbox
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import (
    ITALY,
    Community,
    EnergyStandIn,
    add_prices,
    auth,
    hours_of,
    new_id,
)

MONTH = "2024-06"
START, END = date(2024, 6, 1), date(2024, 7, 1)
LEFT_ON = date(2024, 6, 16)  # one consumer's membership ends here


def _kwh(value: float) -> str:
    return f"{value:.3f}"


async def demo_community(
    maker: async_sessionmaker[AsyncSession], stand_in: EnergyStandIn, *, official: bool
) -> tuple[Community, dict[str, int], dict[str, list[dict[str, Any]]]]:
    c = Community(maker, stand_in)
    await c.create()
    users = {name: new_id() for name in ("producer", "consumer", "firm", "leaver")}
    await c.member(users["producer"])
    await c.member(users["consumer"], body_type="LOCAL_AUTHORITY")
    await c.member(users["firm"], member_type="ENTERPRISE")
    await c.member(users["leaver"], valid_to=LEFT_ON)
    pods = {
        "producer": await c.plant(users["producer"], "PRODUCER"),
        "consumer": await c.plant(users["consumer"], "CONSUMER"),
        "firm": await c.plant(users["firm"], "CONSUMER"),
        "leaver": await c.plant(users["leaver"], "CONSUMER"),
    }
    hours = hours_of(START, END)
    await add_prices(maker, hours)
    source = "official" if official else "iot"
    energy: dict[str, list[dict[str, Any]]] = {}
    for name, pod in pods.items():
        rows = []
        for i, h in enumerate(hours):
            local = h.astimezone(ITALY)
            if name == "producer":
                fed = 9.5 + (i % 7) * 1.25 if 9 <= local.hour < 17 else 0.0
                rows.append({"fed_in_kwh": _kwh(fed), "withdrawn_kwh": _kwh(0.4)})
            else:
                base = {"consumer": 3.1, "firm": 6.05, "leaver": 2.2}[name]
                rows.append({"fed_in_kwh": "0.000", "withdrawn_kwh": _kwh(base + (i % 5) * 0.3)})
            rows[-1].update({"start": local.isoformat(), "source": source})
        energy[pod] = rows
    c.set_energy(MONTH, energy, official_complete=official)
    return c, users, energy


async def settle_through_api(
    client: httpx.AsyncClient, c: Community, kind: str, period: str = MONTH
) -> dict[str, Any]:
    response = await client.post(
        "/api/economic/settlements/",
        json={"community_id": c.id, "period": period, "kind": kind},
        headers=auth(c.admin),
    )
    assert response.status_code == 202, response.text
    run = response.json()["data"]
    assert run["status"] == "QUEUED" and run["progress"] == 0
    done: dict[str, Any] = {}

    async def finished() -> bool:
        r = await client.get(f"/api/economic/settlements/{run['id']}/", headers=auth(c.admin))
        done.update(r.json()["data"])
        return done["status"] in ("COMPLETED", "FAILED")

    await eventually(finished, f"run {run['id']} finished")
    return done


def cli_document(c: Community, users: dict[str, int], energy: dict[str, Any]) -> dict[str, Any]:
    """The engine's JSON built by hand from what the test gave the service: members
    only inside their periods (the leaver's hours from LEFT_ON on do not count)."""
    plants = {p["pod"]: p for p in c.plants}
    members, points, readings = [], [], []
    for name, user in users.items():
        members.append(
            {"id": f"u{user}", "enterprise": name == "firm", "public_body": name == "consumer"}
        )
    for pod, rows in sorted(energy.items(), key=lambda item: plants[item[0]]["plant_id"]):
        p = plants[pod]
        point: dict[str, Any] = {
            "pod": pod,
            "member": f"u{p['owner_user_id']}",
            "substation": p["primary_substation"],
            "zone": "NORD",
        }
        if p["plant_type"] == "PRODUCER":
            point["plant"] = {
                "power_kw": "50",
                "technology": "PV",
                "region": "Lombardia",
                "entry_into_service": "2024-05-01",
                "capital_grant_eur_per_kw": "0",
            }
        points.append(point)
        for row in rows:
            leaver = p["owner_user_id"] == users["leaver"]
            if leaver and row["start"][:10] >= LEFT_ON.isoformat():
                continue
            readings.append(
                {
                    "pod": pod,
                    "start": row["start"],
                    "minutes": 60,
                    "fed_in_kwh": float(row["fed_in_kwh"]),
                    "withdrawn_kwh": float(row["withdrawn_kwh"]),
                }
            )
    prices = [
        {
            "zone": "NORD",
            "hour": h.astimezone(ITALY).isoformat(),
            "eur_mwh": float(Decimal(95) + Decimal(h.astimezone(UTC).hour * 3)),
        }
        for h in hours_of(START, END)
    ]
    members.sort(key=lambda m: int(m["id"][1:]))
    return {
        "period": {"start": START.isoformat(), "end": END.isoformat()},
        "members": members,
        "points": points,
        "prices": prices,
        "readings": readings,
        "distribution": {"producers": 0.45, "consumers": 0.30, "community": 0.25},
    }


async def test_an_estimate_equals_cer_settle_to_the_cent(
    client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
    tmp_path: Path,
) -> None:
    c, users, hours = await demo_community(maker, energy[0], official=False)
    run = await settle_through_api(client, c, "ESTIMATE")
    assert run["status"] == "COMPLETED", run["errors"]
    assert run["coverage"]["hours_by_source"] == {"iot": 720 * 3 + 15 * 24}
    assert run["coverage"]["hours_excluded_outside_periods"] == 15 * 24

    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(cli_document(c, users, hours)))
    # The command itself, as a user runs it (in a thread: it blocks).
    cli = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cacer", "settle", "--input", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout)
    assert expected["total_eur"] > 0 and expected["incentive_eur"] > 0
    assert Decimal(run["total_eur"]) == Decimal(str(expected["total_eur"]))
    assert Decimal(run["community_eur"]) == Decimal(str(expected["community_eur"]))
    by_member = {m["user_id"]: Decimal(m["eur"]) for m in run["members"]}
    assert by_member == {int(m["id"][1:]): Decimal(str(m["eur"])) for m in expected["members"]}
    assert sum(by_member.values()) + Decimal(run["community_eur"]) == Decimal(run["total_eur"])


async def test_provisional_needs_complete_official_data(
    client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c, _, _ = await demo_community(maker, energy[0], official=False)
    run = await settle_through_api(client, c, "PROVISIONAL")
    assert run["status"] == "FAILED"
    assert "official data for 2024-06 is not complete" in run["errors"][0]["message"]
    assert run["members"] == []


async def test_approve_posts_the_distribution_once_and_the_books_balance(
    client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c, users, _ = await demo_community(maker, energy[0], official=True)
    first = await settle_through_api(client, c, "PROVISIONAL")
    assert first["status"] == "COMPLETED", first["errors"]
    second = await settle_through_api(client, c, "PROVISIONAL")
    assert second["previous_run_id"] == first["id"]
    assert second["difference"]["total_cents"] == 0
    assert second["inputs_fingerprint"] == first["inputs_fingerprint"]

    member = users["producer"]
    refused = await client.post(
        f"/api/economic/settlements/{second['id']}/approve/", headers=auth(member)
    )
    assert refused.status_code == 403

    answers = [
        await client.post(
            f"/api/economic/settlements/{second['id']}/approve/", headers=auth(c.admin)
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    finals = [a.json()["data"] for a in answers]
    assert finals[0]["id"] == finals[1]["id"] and finals[0]["kind"] == "FINAL"

    async with maker() as session:
        entries = await session.scalar(
            select(func.count()).select_from(JournalEntry).where(JournalEntry.community_id == c.id)
        )
        assert entries == 1
        approved = (
            await session.scalars(
                select(outbox.c.envelope).where(
                    outbox.c.type == "settlement.approved", outbox.c.key == str(c.id)
                )
            )
        ).all()
        computed = await session.scalar(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.type == "settlement.computed", outbox.c.key == str(c.id))
        )
    assert computed == 2
    assert len(approved) == 1, "a retried approval published twice"
    event = approved[0]["data"]
    assert event["run_id"] == finals[0]["id"] and event["total_cents"] == int(
        Decimal(finals[0]["total_eur"]) * 100
    )
    assert {
        m["user_id"]: m["as_producer_cents"] + m["as_consumer_cents"] for m in event["members"]
    } == {m["user_id"]: int(Decimal(m["eur"]) * 100) for m in finals[0]["members"]}
    books = (
        await client.get(f"/api/economic/books/?community_id={c.id}", headers=auth(c.admin))
    ).json()["data"]
    assert sum(Decimal(b["balance_eur"]) for b in books) == 0
    receivable = next(b for b in books if b["account"] == "GSE_RECEIVABLE")
    assert Decimal(receivable["balance_eur"]) == Decimal(finals[0]["total_eur"])
    payable = {b["user_id"]: -Decimal(b["balance_eur"]) for b in books if b["user_id"]}
    assert payable == {
        m["user_id"]: Decimal(m["eur"]) for m in finals[0]["members"] if m["eur"] != "0"
    } | {k: v for k, v in payable.items() if v == 0}

    # A member sees their own month, approved.
    mine = (await client.get("/api/economic/members/me/", headers=auth(member))).json()["data"]
    own = next(m for m in finals[0]["members"] if m["user_id"] == member)
    assert [Decimal(m["eur"]) for m in mine["months"]] == [Decimal(own["eur"])]
    assert Decimal(mine["payable_eur"]) == Decimal(own["eur"])

    # A later request for the approved month must be an ADJUSTMENT.
    again = await client.post(
        "/api/economic/settlements/",
        json={"community_id": c.id, "period": MONTH, "kind": "PROVISIONAL"},
        headers=auth(c.admin),
    )
    assert again.status_code == 409


async def test_outsiders_get_404_and_bad_input_writes_nothing(
    client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c, _, _ = await demo_community(maker, energy[0], official=False)
    run = await settle_through_api(client, c, "ESTIMATE")
    other = Community(maker, energy[0])
    await other.create()
    stranger = other.admin
    for method, url in (
        ("GET", f"/api/economic/settlements/{run['id']}/"),
        ("POST", f"/api/economic/settlements/{run['id']}/approve/"),
        ("GET", f"/api/economic/settlements/?community_id={c.id}"),
        ("GET", f"/api/economic/books/?community_id={c.id}"),
        ("GET", f"/api/economic/benefits/?community_id={c.id}"),
        ("GET", f"/api/economic/transactions/?community_id={c.id}"),
    ):
        response = await client.request(method, url, headers=auth(stranger))
        assert response.status_code == 404, (url, response.text)

    async with maker() as session:
        before = await session.scalar(select(func.count()).select_from(SettlementRun))
    for body, field in (
        ({"community_id": c.id, "period": "2024-13", "kind": "ESTIMATE"}, "period"),
        ({"community_id": c.id, "period": MONTH, "kind": "FINAL"}, "kind"),
        ({"community_id": c.id, "period": "2999-01", "kind": "ESTIMATE"}, "period"),
        ({"community_id": c.id, "period": MONTH, "kind": "ADJUSTMENT"}, "kind"),
    ):
        response = await client.post("/api/economic/settlements/", json=body, headers=auth(c.admin))
        assert response.status_code in (409, 422), response.text
        error = response.json()["errors"][0]
        assert error["field"] == field, error
    async with maker() as session:
        after = await session.scalar(select(func.count()).select_from(SettlementRun))
    assert after == before


async def test_transactions_post_balanced_entries_and_an_unbalanced_one_is_refused(
    client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c = Community(maker, energy[0])
    await c.create()
    member = new_id()
    await c.member(member)

    async def books_sum() -> Decimal:
        rows = (
            await client.get(f"/api/economic/books/?community_id={c.id}", headers=auth(c.admin))
        ).json()["data"]
        return sum((Decimal(b["balance_eur"]) for b in rows), Decimal(0))

    refused = await client.post(
        "/api/economic/transactions/",
        json={"community_id": c.id, "kind": "GSE_PAYMENT", "amount": "10.00"},
        headers=auth(member),
    )
    assert refused.status_code == 403
    bad = await client.post(
        "/api/economic/transactions/",
        json={"community_id": c.id, "kind": "BENEFIT_DISTRIBUTION", "amount": "5.001"},
        headers=auth(c.admin),
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "amount"

    for kind, amount, user in (
        ("GSE_PAYMENT", "120.35", None),
        ("ADJUSTMENT", "7.10", member),
        ("BENEFIT_DISTRIBUTION", "7.10", member),
    ):
        created = await client.post(
            "/api/economic/transactions/",
            json={"community_id": c.id, "kind": kind, "amount": amount, "user_id": user},
            headers=auth(c.admin),
        )
        assert created.status_code == 201, created.text
        tx = created.json()["data"]
        assert tx["status"] == "PENDING"
        done = await client.post(
            f"/api/economic/transactions/{tx['id']}/status/",
            json={"status": "PROCESSED"},
            headers=auth(c.admin),
        )
        assert done.status_code == 200 and done.json()["data"]["entry_id"]
        assert await books_sum() == 0

    own = (
        await client.get(f"/api/economic/transactions/?community_id={c.id}", headers=auth(member))
    ).json()["data"]
    assert {t["kind"] for t in own} == {"ADJUSTMENT", "BENEFIT_DISTRIBUTION"}

    # Whatever code writes a posting, an unbalanced entry never commits.
    entry_id = done.json()["data"]["entry_id"]
    async with maker() as session:
        account = await session.scalar(
            select(Posting.account_id).where(Posting.entry_id == entry_id).limit(1)
        )
        session.add(Posting(entry_id=entry_id, account_id=account, amount_cents=1))
        try:
            await session.commit()
            raise AssertionError("an unbalanced posting was committed")
        except DBAPIError as exc:
            assert "does not balance" in str(exc)
