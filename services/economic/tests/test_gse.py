"""The GSE loop against the real GSE simulator over HTTP (tools/gse_sim, started
with the local servers): credentials, sync jobs with retries and the circuit
breaker, idempotent re-pulls, file imports, the reconciliation of a month the
GSE lacks a POD for, and who may do what.

The simulator's clock is set to 5 August 2024 (June's figures published on 25
July, June's advance paid on 31 July) and put back at the end; each test uses its
own OAuth client and community, so its configuration is its own.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cerc_shared import testing as kit
from cerc_shared.clock import italian_today
from cerc_shared.testing import eventually
from economic_service.main import create_app
from economic_service.models import (
    GseCredential,
    GsePayment,
    GsePlant,
    GseResult,
    GseSyncJob,
    JournalEntry,
    Transaction,
    outbox,
)
from economic_service.service.gse import calendar
from economic_service.service.gse.client import CircuitBreaker, RetryPolicy
from economic_service.settings import EconomicSettings
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import ITALY, TOKENS, Community, EnergyStandIn, add_prices, auth, hours_of, new_id

MONTH = "2024-06"
START, END = date(2024, 6, 1), date(2024, 7, 1)
ADMIN = {"X-Admin-Token": "gse_sim_admin_dev"}  # the simulator's development key
SIM = f"http://127.0.0.1:{kit.ports()['GSE_SIM_PORT']}"


@pytest.fixture(scope="module")
async def gse_app(
    settings: EconomicSettings, energy: tuple[EnergyStandIn, int]
) -> AsyncIterator[FastAPI]:
    gse_settings = settings.model_copy(
        update={
            "gse_url": SIM,
            "gse_sync": True,
            "gse_poll_interval_s": 0.1,
            "gse_backoff_base_s": 0.05,
            "gse_max_attempts": 4,
            "gse_breaker_threshold": 3,
            "gse_breaker_cooldown_s": 1.0,
            "settle_jobs": True,
        }
    )
    async with httpx.AsyncClient(base_url=SIM, headers=ADMIN) as sim:
        health = await sim.get("/health")
        assert health.status_code == 200, "the GSE simulator is not running (make infra-up)"
        await sim.put("/admin/clock", json={"now": "2024-08-05T10:00:00+02:00"})
        try:
            async with kit.running_app(create_app(gse_settings), gse_settings, TOKENS) as app:
                yield app
        finally:
            await sim.put("/admin/clock", json={"now": None})
            await sim.put("/admin/faults/delay", json={"seconds": 0})
            await sim.post("/admin/faults/errors", json={"count": 0, "status": 503})


@pytest.fixture
async def api(gse_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with kit.asgi_client(gse_app, "http://economic") as http:
        yield http


@pytest.fixture
async def sim() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=SIM, headers=ADMIN, timeout=30) as http:
        yield http


@pytest.fixture
def gse_maker(gse_app: FastAPI) -> async_sessionmaker[AsyncSession]:
    made: async_sessionmaker[AsyncSession] = gse_app.state.sessionmaker
    return made


def _kwh(value: float) -> str:
    return f"{value:.3f}"


async def june_community(
    maker: async_sessionmaker[AsyncSession], stand_in: EnergyStandIn, sim: httpx.AsyncClient
) -> tuple[Community, dict[str, str]]:
    """A producer and two consumers, all private, with June's official hours and
    the same zonal prices at the platform and at the GSE."""
    c = Community(maker, stand_in)
    await c.create()
    users = {name: new_id() for name in ("producer", "home", "shop")}
    for user in users.values():
        await c.member(user)
    pods = {
        "producer": await c.plant(users["producer"], "PRODUCER", power_kw="80"),
        "home": await c.plant(users["home"], "CONSUMER"),
        "shop": await c.plant(users["shop"], "CONSUMER"),
    }
    hours = hours_of(START, END)
    await add_prices(maker, hours)
    prices = [
        {"zone": "NORD", "hour": h.astimezone(ITALY).isoformat(), "eur_mwh": str(95 + h.hour * 3)}
        for h in hours
    ]
    assert (await sim.put("/admin/prices", json={"prices": prices})).status_code == 200
    energy: dict[str, list[dict[str, Any]]] = {}
    for name, pod in pods.items():
        rows = []
        for i, h in enumerate(hours):
            local = h.astimezone(ITALY)
            if name == "producer":
                fed = 14.5 + (i % 7) * 1.25 if 9 <= local.hour < 17 else 0.0
                row = {"fed_in_kwh": _kwh(fed), "withdrawn_kwh": _kwh(0.4)}
            else:
                base = {"home": 3.1, "shop": 6.05}[name]
                row = {"fed_in_kwh": "0.000", "withdrawn_kwh": _kwh(base + (i % 5) * 0.3)}
            rows.append({**row, "start": local.isoformat(), "source": "official"})
        energy[pod] = rows
    c.set_energy(MONTH, energy, official_complete=True)
    return c, pods


async def gse_client(sim: httpx.AsyncClient, **limits: int) -> tuple[str, str]:
    client_id, secret = f"cer-{new_id()}", f"secret-{new_id()}"
    r = await sim.post(
        "/admin/clients", json={"client_id": client_id, "client_secret": secret, **limits}
    )
    assert r.status_code == 201, r.text
    return client_id, secret


async def with_credentials(
    api: httpx.AsyncClient, c: Community, sim: httpx.AsyncClient, **limits: int
) -> tuple[str, str]:
    client_id, secret = await gse_client(sim, **limits)
    r = await api.put(
        "/api/economic/gse/credentials/",
        json={"community_id": c.id, "client_id": client_id, "client_secret": secret},
        headers=auth(c.admin),
    )
    assert r.status_code == 200, r.text
    assert secret not in r.text
    return client_id, secret


async def estimate(api: httpx.AsyncClient, c: Community) -> dict[str, Any]:
    r = await api.post(
        "/api/economic/settlements/",
        json={"community_id": c.id, "period": MONTH, "kind": "ESTIMATE"},
        headers=auth(c.admin),
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["data"]["id"]
    done: dict[str, Any] = {}

    async def finished() -> bool:
        got = await api.get(f"/api/economic/settlements/{run_id}/", headers=auth(c.admin))
        done.update(got.json()["data"])
        return done["status"] in ("COMPLETED", "FAILED")

    await eventually(finished, f"run {run_id} finished")
    assert done["status"] == "COMPLETED", done
    return done


async def sync(
    api: httpx.AsyncClient, c: Community, months: list[str] | None = None
) -> dict[str, Any]:
    r = await api.post(
        "/api/economic/gse/sync/",
        json={"community_id": c.id, "months": months or [MONTH]},
        headers=auth(c.admin),
    )
    assert r.status_code == 202, r.text
    job = r.json()["data"]
    assert job["status"] == "QUEUED"
    done: dict[str, Any] = {}

    async def finished() -> bool:
        got = await api.get(f"/api/economic/gse/sync/{job['id']}/", headers=auth(c.admin))
        done.update(got.json()["data"])
        return done["status"] in ("COMPLETED", "FAILED")

    await eventually(finished, f"sync job {job['id']} finished")
    return done


async def reconciliation(api: httpx.AsyncClient, c: Community) -> dict[str, Any]:
    r = await api.get(
        "/api/economic/reconciliations/",
        params={"community_id": c.id, "period": MONTH},
        headers=auth(c.admin),
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def counts(maker: async_sessionmaker[AsyncSession], c: Community) -> dict[str, int]:
    async with maker() as session:
        out = {}
        for name, column, where in (
            ("results", GseResult.id, GseResult.community_id == c.id),
            ("payments", GsePayment.gse_id, GsePayment.community_id == c.id),
            ("transactions", Transaction.id, Transaction.community_id == c.id),
            ("entries", JournalEntry.id, JournalEntry.community_id == c.id),
            (
                "mismatch_events",
                outbox.c.id,
                (outbox.c.key == str(c.id)) & (outbox.c.type == "reconciliation.mismatch"),
            ),
        ):
            out[name] = int(await session.scalar(select(func.count(column)).where(where)) or 0)
        return out


async def test_a_month_goes_round_the_loop_and_a_dropped_pod_is_named(
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    gse_maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c, pods = await june_community(gse_maker, energy[0], sim)
    run = await estimate(api, c)
    _, secret = await with_credentials(api, c, sim)
    async with gse_maker() as session:
        stored = await session.get(GseCredential, c.id)
        assert stored is not None and secret not in stored.client_secret_sealed

    first = await sync(api, c)
    assert first["status"] == "COMPLETED", first
    summary = first["summary"]
    assert summary["plants_registered"] == 3
    assert summary["submissions"][0]["readings"] == 3 * 720
    assert summary["results_new"] == [MONTH] and summary["mismatches_announced"] == []

    # Same data, prices and TRASe at both ends: the GSE's figures are the run's, to the cent.
    matched = await reconciliation(api, c)
    figures = matched["figures"]
    assert figures["status"] == "MATCHED" and figures["difference_cents"] == 0, figures
    assert figures["run_id"] == run["id"]
    assert Decimal(figures["totals"]["total_eur"]["gse"]) == Decimal(str(run["total_eur"]))
    # June's advance: stated by the GSE, expected by the engine's formula, paid on 31 July.
    payments = matched["payments"]
    assert payments["expected_advance_cents"] == payments["gse_advance_cents"] > 5000
    assert payments["advance_due_on"] == "2024-07-31"
    [paid] = payments["paid"]
    assert paid["kind"] == "ADVANCE" and paid["payment_date"] == "2024-07-31"
    assert paid["amount_cents"] == payments["gse_advance_cents"]
    # The payment closed the receivable through a balanced entry: bank up, receivable down.
    books = await api.get(
        "/api/economic/books/", params={"community_id": c.id}, headers=auth(c.admin)
    )
    balances = {b["account"]: b["balance_eur"] for b in books.json()["data"]}
    assert Decimal(balances["BANK"]) * 100 == paid["amount_cents"]
    assert payments["receivable_balance_cents"] == -paid["amount_cents"]

    # The GSE loses the data of one consumer: June is recomputed without it.
    configuration = summary["configuration_id"]
    dropped = pods["shop"]
    r = await sim.put(
        f"/admin/configurations/{configuration}/missing-pods", json={"pods": [dropped]}
    )
    assert r.status_code == 200
    before = await counts(gse_maker, c)
    second = await sync(api, c)
    assert second["status"] == "COMPLETED", second
    assert second["summary"]["results_new"] == [MONTH]
    assert second["summary"]["mismatches_announced"] == [MONTH]

    mismatch = (await reconciliation(api, c))["figures"]
    assert mismatch["status"] == "MISMATCH" and mismatch["difference_cents"] < -100
    causes = mismatch["causes"]
    assert {c_["cause"] for c_ in causes} == {"GSE_MISSING_DATA"}, causes
    assert {c_["pod"] for c_ in causes} == {dropped}
    assert sum(c_["difference_cents"] for c_ in causes) == mismatch["difference_cents"]
    row = next(p for p in mismatch["pods"] if p["pod"] == dropped)
    assert row["gse_status"] == "NO_DATA" and row["cause"] == "GSE_MISSING_DATA"

    after = await counts(gse_maker, c)
    assert after["results"] == before["results"] + 1
    assert after["mismatch_events"] == 1
    async with gse_maker() as session:
        payload = await session.scalar(
            select(outbox.c.envelope).where(
                outbox.c.key == str(c.id), outbox.c.type == "reconciliation.mismatch"
            )
        )
    assert payload is not None and dropped in str(payload)

    # Pulled again: nothing new, nothing posted twice, no second announcement.
    third = await sync(api, c)
    assert third["status"] == "COMPLETED"
    assert third["summary"]["results_new"] == [] and third["summary"]["payments_new"] == []
    assert await counts(gse_maker, c) == after


async def test_retries_after_5xx_and_after_429_honouring_retry_after(
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    gse_maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c, _ = await june_community(gse_maker, energy[0], sim)
    client_id, secret = await with_credentials(api, c, sim, rate_limit_per_minute=120)

    assert (
        await sim.post("/admin/faults/errors", json={"count": 2, "status": 503})
    ).status_code == 200
    job = await sync(api, c)
    assert job["status"] == "COMPLETED", job
    retried = job["summary"]["calls"]["retries"]
    assert [r.split()[0] for r in retried] == ["503", "503"], retried
    assert job["summary"]["circuit"] == "CLOSED"

    # Spend the client's whole bucket, so the sync's calls meet 429 with Retry-After.
    token = (
        await sim.post(
            "/gse/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
        )
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=SIM, headers=bearer) as raw:
        statuses = [(await raw.get("/gse/api/v1/configurations/")).status_code for _ in range(125)]
    assert 429 in statuses
    began = time.monotonic()
    job = await sync(api, c)
    assert job["status"] == "COMPLETED", job
    waits = [r for r in job["summary"]["calls"]["retries"] if r.startswith("429")]
    assert waits and all(r.endswith("waited 1.00s") for r in waits), waits
    assert time.monotonic() - began >= len(waits) * 1.0
    # Being paced is not failing: the circuit stays closed.
    assert job["summary"]["circuit"] == "CLOSED"


async def test_the_circuit_opens_stops_calling_and_closes_after_the_cool_down(
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    gse_maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c, _ = await june_community(gse_maker, energy[0], sim)
    await with_credentials(api, c, sim)

    async def circuit() -> str:
        r = await api.get(
            "/api/economic/gse/status/", params={"community_id": c.id}, headers=auth(c.admin)
        )
        state: str = r.json()["data"]["circuit"]
        return state

    # Four failures queued at the GSE; the breaker opens at the third.
    await sim.post("/admin/faults/errors", json={"count": 4, "status": 502})
    first = await sync(api, c)
    assert first["status"] == "FAILED"
    assert first["errors"][0]["code"] == "circuit_open", first
    assert first["summary"]["calls"]["attempts"] == 3
    assert await circuit() == "OPEN"

    # While open nothing reaches the GSE: the fourth failure is still waiting there.
    second = await sync(api, c)
    assert second["status"] == "FAILED" and second["errors"][0]["code"] == "circuit_open"
    assert second["summary"]["calls"]["attempts"] == 0

    # After the cool-down one trial call goes through (half-open); it meets the
    # fourth failure, so the circuit opens again at once.
    await asyncio.sleep(1.1)
    third = await sync(api, c)
    assert third["status"] == "FAILED" and third["summary"]["calls"]["attempts"] == 1
    assert await circuit() == "OPEN"

    await asyncio.sleep(1.1)
    fourth = await sync(api, c)
    assert fourth["status"] == "COMPLETED", fourth
    assert await circuit() == "CLOSED"


def _csv(rows: list[list[str]]) -> bytes:
    return "\n".join(",".join(r) for r in rows).encode()


HEADER = [
    "row_type",
    "month",
    "pod",
    "substation",
    "zone",
    "kind",
    "eligibility",
    "fed_in_kwh",
    "withdrawn_kwh",
    "shared_energy_kwh",
    "incentivised_shared_energy_kwh",
    "incentive_eur",
    "refund_eur",
    "trase_eur_mwh",
]


async def test_a_file_with_errors_writes_nothing_and_names_every_cell(
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    gse_maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c, pods = await june_community(gse_maker, energy[0], sim)
    producer, home, shop = pods["producer"], pods["home"], pods["shop"]
    good = [
        HEADER,
        [
            "POD",
            MONTH,
            producer,
            "AC001E00001",
            "NORD",
            "PRODUCTION",
            "ELIGIBLE",
            "9000.000",
            "288.000",
            "4000.000",
            "4000.000",
            "420.00",
            "36.40",
            "",
        ],
        [
            "POD",
            MONTH,
            home,
            "AC001E00001",
            "NORD",
            "CONSUMPTION",
            "ELIGIBLE",
            "0",
            "2664.000",
            "0",
            "0",
            "0",
            "0",
            "",
        ],
        [
            "POD",
            MONTH,
            shop,
            "AC001E00001",
            "NORD",
            "CONSUMPTION",
            "ELIGIBLE",
            "0",
            "4788.000",
            "0",
            "0",
            "0",
            "0",
            "",
        ],
        [
            "TOTAL",
            MONTH,
            "",
            "",
            "",
            "",
            "",
            "9000.000",
            "7740.000",
            "4000.000",
            "4000.000",
            "420.00",
            "36.40",
            "10.57",
        ],
    ]
    bad = [list(r) for r in good]
    bad[1][11] = "42O.00"  # a letter O in an amount
    bad[2][2] = "IT001E999"  # not a POD
    bad[3][1] = "2024-13"
    bad.append(list(good[1]))  # the producer again: the same POD and month twice
    before = await counts(gse_maker, c)
    r = await api.post(
        "/api/economic/gse/imports/",
        data={"community_id": str(c.id)},
        files={"file": ("giugno.csv", _csv(bad), "text/csv")},
        headers=auth(c.admin),
    )
    assert r.status_code == 422, r.text
    fields = {e["field"] for e in r.json()["errors"]}
    assert {
        "giugno.csv:2:incentive_eur",
        "giugno.csv:3:pod",
        "giugno.csv:4:month",
        "giugno.csv:6:pod",
    } <= fields, fields
    assert all(e["expected"] for e in r.json()["errors"])
    assert await counts(gse_maker, c) == before

    # Totals that are not the rows' sum are refused too.
    wrong_total = [list(r) for r in good]
    wrong_total[4][11] = "421.00"
    r = await api.post(
        "/api/economic/gse/imports/",
        data={"community_id": str(c.id)},
        files={"file": ("giugno.csv", _csv(wrong_total), "text/csv")},
        headers=auth(c.admin),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "giugno.csv:5:incentive_eur"
    assert await counts(gse_maker, c) == before

    # The good file as XLSX: stored once; the same figures again change nothing.
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in good:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    for expected_new in ([MONTH], []):
        r = await api.post(
            "/api/economic/gse/imports/",
            data={"community_id": str(c.id)},
            files={"file": ("giugno.xlsx", buffer.getvalue(), "application/octet-stream")},
            headers=auth(c.admin),
        )
        assert r.status_code == 201, r.text
        assert r.json()["data"]["new"] == expected_new
    # Without a run yet the reconciliation says what it lacks, and shows the GSE's side.
    figures = (await reconciliation(api, c))["figures"]
    assert figures["status"] == "INCOMPLETE" and figures["missing"] == ["a completed run"]

    statement = _csv(
        [
            ["payment_id", "payment_date", "kind", "period", "amount_eur"],
            ["BONIFICO-2024-07-31", "2024-07-31", "ADVANCE", MONTH, "456.40"],
        ]
    )
    for expected_new in (["BONIFICO-2024-07-31"], []):
        r = await api.post(
            "/api/economic/gse/imports/",
            data={"community_id": str(c.id)},
            files={"file": ("pagamenti.csv", statement, "text/csv")},
            headers=auth(c.admin),
        )
        assert r.status_code == 201, r.text
        assert r.json()["data"]["new"] == expected_new
    assert (await counts(gse_maker, c))["entries"] == before["entries"] + 1


async def test_members_get_403_and_other_communities_404(
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    gse_maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c, _ = await june_community(gse_maker, energy[0], sim)
    other = Community(gse_maker, energy[0])
    await other.create()
    member = new_id()
    await c.member(member)
    client_id, secret = await gse_client(sim)
    job = await sync_job_id(api, c, sim)
    calls = [
        (
            "PUT",
            "/api/economic/gse/credentials/",
            {"json": {"community_id": c.id, "client_id": client_id, "client_secret": secret}},
        ),
        ("POST", "/api/economic/gse/sync/", {"json": {"community_id": c.id}}),
        ("GET", "/api/economic/gse/status/", {"params": {"community_id": c.id}}),
        ("GET", f"/api/economic/gse/sync/{job}/", {}),
        (
            "GET",
            "/api/economic/reconciliations/",
            {"params": {"community_id": c.id, "period": MONTH}},
        ),
        (
            "POST",
            "/api/economic/gse/imports/",
            {
                "data": {"community_id": str(c.id)},
                "files": {"file": ("x.csv", _csv([HEADER]), "text/csv")},
            },
        ),
    ]
    for method, path, kwargs in calls:
        as_member = await api.request(method, path, headers=auth(member), **kwargs)
        assert as_member.status_code == 403, (path, as_member.text)
        as_outsider = await api.request(method, path, headers=auth(other.admin), **kwargs)
        assert as_outsider.status_code == 404, (path, as_outsider.text)
    async with gse_maker() as session:
        stored = await session.get(GseCredential, c.id)
        assert stored is not None and stored.client_id != client_id


async def sync_job_id(api: httpx.AsyncClient, c: Community, sim: httpx.AsyncClient) -> int:
    await with_credentials(api, c, sim)
    return int((await sync(api, c))["id"])


def test_the_calendar_pays_on_the_last_working_day() -> None:
    assert calendar.advance_due_on("2024-06") == date(2024, 7, 31)  # a Wednesday
    assert calendar.advance_due_on("2024-07") == date(2024, 8, 30)  # the 31st is a Saturday
    assert calendar.advance_due_on("2025-02") == date(2025, 3, 31)
    assert calendar.true_up_due_on(2024) == date(2025, 5, 15)
    assert calendar.true_up_due_on(2025) == date(2026, 5, 15)
    assert not calendar.is_working_day(date(2025, 4, 21))  # Easter Monday
    assert calendar.previous_months(date(2025, 1, 10), 2) == ["2024-11", "2024-12"]


def test_retry_waits_what_retry_after_says_and_backs_off_otherwise() -> None:
    policy = RetryPolicy(max_attempts=5, backoff_base_s=0.5, backoff_max_s=4, retry_after_max_s=60)
    said = httpx.Response(429, headers={"Retry-After": "7"})
    assert policy.wait_s(0, said) == 7
    assert policy.wait_s(0, httpx.Response(429, headers={"Retry-After": "600"})) == 60
    assert [policy.wait_s(n, httpx.Response(503)) for n in range(5)] == [0.5, 1, 2, 4, 4]


def test_the_breaker_opens_at_the_threshold_and_half_opens_after_the_cool_down() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, cooldown_s=10, clock=lambda: now[0])
    breaker.failed()
    breaker.before_call()
    breaker.failed()
    assert breaker.state == "OPEN"
    with pytest.raises(Exception, match="not called again"):
        breaker.before_call()
    now[0] = 10.0
    breaker.before_call()
    assert breaker.state == "HALF_OPEN"
    breaker.failed()
    assert breaker.state == "OPEN"
    now[0] = 20.0
    breaker.before_call()
    breaker.succeeded()
    assert breaker.state == "CLOSED" and breaker.failures == 0


async def test_the_schedule_queues_a_job_for_each_community_with_credentials(
    gse_app: FastAPI,
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    gse_maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c, _ = await june_community(gse_maker, energy[0], sim)
    await with_credentials(api, c, sim)
    without = Community(gse_maker, energy[0])
    await without.create()
    await gse_app.state.gse_worker.enqueue_scheduled()

    async def jobs_of(community: Community) -> list[GseSyncJob]:
        async with gse_maker() as session:
            rows = await session.scalars(
                select(GseSyncJob).where(GseSyncJob.community_id == community.id)
            )
            return list(rows)

    [job] = await jobs_of(c)
    assert job.requested_by == 0  # the schedule, not a person
    assert job.months == calendar.previous_months(italian_today(), 6)
    assert await jobs_of(without) == []

    async def done() -> bool:
        return (await jobs_of(c))[0].status == "COMPLETED"

    await eventually(done, "the scheduled job ran")


async def test_the_year_true_up_is_recorded_once_as_an_adjustment_run(
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    gse_maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c, _ = await june_community(gse_maker, energy[0], sim)
    run = await estimate(api, c)
    await with_credentials(api, c, sim)
    first = await sync(api, c)
    assert first["status"] == "COMPLETED" and first["summary"]["true_up_runs"] == []

    # 20 May 2025: the GSE has settled 2024 (June's figures less June's advance).
    await sim.put("/admin/clock", json={"now": "2025-05-20T10:00:00+02:00"})
    try:
        second = await sync(api, c)
        again = await sync(api, c)
    finally:
        await sim.put("/admin/clock", json={"now": "2024-08-05T10:00:00+02:00"})
    assert second["status"] == "COMPLETED", second
    [adjustment] = second["summary"]["true_up_runs"]
    assert again["summary"]["true_up_runs"] == []  # the same figures: recorded once

    r = await api.get(
        "/api/economic/reconciliations/",
        params={"community_id": c.id, "period": "2024"},
        headers=auth(c.admin),
    )
    assert r.status_code == 200, r.text
    year = r.json()["data"]["true_up"]
    june_cents = int(Decimal(str(run["total_eur"])) * 100)
    assert year["adjustment_run_id"] == adjustment
    assert year["gse_figures_cents"] == year["platform_cents"] == june_cents
    assert [m["month"] for m in year["months"]] == [MONTH]
    assert year["expected_true_up_cents"] == june_cents - year["advances_cents"]
    assert year["gse_true_up_cents"] == year["expected_true_up_cents"] and year["matches"]
    assert year["due_on"] == "2025-05-15"

    stored = await api.get(f"/api/economic/settlements/{adjustment}/", headers=auth(c.admin))
    assert stored.status_code == 200
    data = stored.json()["data"]
    assert data["kind"] == "ADJUSTMENT" and data["period"] == "2024"
    assert data["difference"] == {"total_cents": 0, "true_up_cents": 0}


@pytest.mark.parametrize("fault", ["trase", "refund_only", "data_source"])
async def test_each_kind_of_difference_is_named_for_what_it_is(
    fault: str,
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    gse_maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c, pods = await june_community(gse_maker, energy[0], sim)
    official = energy[0].months[(c.id, MONTH)]
    if fault == "data_source":
        # The run is made on the devices' readings, a tenth above what the
        # distributor measured (fed in and withdrawn, so the shared energy moves
        # too); the GSE gets the official data.
        devices = {
            "month": MONTH,
            "official_complete": False,
            "pods": [
                {
                    "pod": item["pod"],
                    "hours": [
                        {
                            **h,
                            "source": "iot",
                            "fed_in_kwh": f"{float(h['fed_in_kwh']) * 1.1:.3f}",
                            "withdrawn_kwh": f"{float(h['withdrawn_kwh']) * 1.1:.3f}",
                        }
                        for h in item["hours"]
                    ],
                }
                for item in official["pods"]
            ],
        }
        energy[0].months[(c.id, MONTH)] = devices
        await estimate(api, c)
        energy[0].months[(c.id, MONTH)] = official
    else:
        await estimate(api, c)
    await with_credentials(api, c, sim)
    first = await sync(api, c)
    configuration = first["summary"]["configuration_id"]
    if fault == "trase":
        r = await sim.put(
            "/admin/trase",
            json={"year": 2024, "eur_mwh": "14.00", "configuration_id": configuration},
        )
        assert r.status_code == 200
        expected = {("PARAMETER_DIFFERENCE", None)}
    elif fault == "refund_only":
        async with gse_maker() as session:
            plant = await session.get(GsePlant, (c.id, pods["producer"]))
            assert plant is not None
        r = await sim.put(
            f"/admin/plants/{plant.gse_plant_id}/eligibility",
            json={"status": "REFUND_ONLY", "reason": "over 1 MW"},
        )
        assert r.status_code == 200
        expected = {("PLANT_TREATED_DIFFERENTLY", pods["producer"])}
    else:
        expected = {("DIFFERENT_DATA_SOURCE", pods["producer"])}
    if fault != "data_source":
        assert (await reconciliation(api, c))["figures"]["status"] == "MATCHED"
        second = await sync(api, c)
        assert second["summary"]["mismatches_announced"] == [MONTH], second
    figures = (await reconciliation(api, c))["figures"]
    assert figures["status"] == "MISMATCH", figures
    named = {(x["cause"], x["pod"]) for x in figures["causes"] if x["cause"] != "ROUNDING"}
    assert named == expected, figures["causes"]
    assert sum(x["difference_cents"] for x in figures["causes"]) == figures["difference_cents"]
