"""Benchmark of the economic service's settlement runs (`uv run python bench/bench_economic.py`,
or `make bench`; hold the test lock: it uses the fixed database cerc_bench_economic).

1. One community month of N points (default 1,000) settled end to end through the service:
   POST /settlements/ (202) -> the job worker (registry read model from PostgreSQL, the
   energy API over HTTP, prices, the engine, results) -> COMPLETED, then approved (the
   ledger posting). The target is < 5 s for 1,000 points.
2. A batch: a year of months (12 runs queued at once) for M points (default 10,000), timed
   until the last run completes.

The service runs in this process on real PostgreSQL with its real worker; the energy
service's internal route is served by a loopback HTTP server answering the same contract
(a month of hourly fed-in and withdrawn per POD, made up here), so the figure includes the
HTTP transfer and parsing of the month but not InfluxDB's reads (bench_energy_reads.py
measures those). Prints figures only; nothing asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web
from cerc_shared import testing as kit
from cerc_shared.clock import ITALY
from cerc_shared.events import EventEnvelope
from cerc_shared.events.cer import (
    CommunityCreated,
    MembershipStarted,
    PlantRegistered,
    SharesPeriod,
)
from economic_service.main import create_app
from economic_service.models import ZonalPrice, registry
from economic_service.settings import EconomicSettings
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "cerc_bench_economic"
TOKENS = kit.TestTokens("bench-economic")
YEAR = 2024  # in the engine's TRASe table
ADMIN = 1


def hours_of(month: int) -> list[datetime]:
    first = datetime(YEAR, month, 1, tzinfo=ITALY).astimezone(UTC)
    nxt = date(YEAR + (month == 12), month % 12 + 1, 1)
    last = datetime(nxt.year, nxt.month, 1, tzinfo=ITALY).astimezone(UTC)
    return [first + timedelta(hours=h) for h in range(int((last - first).total_seconds()) // 3600)]


class Energy:
    """The energy service's ``/internal/energy/pod-hours/``: each month's answer built once."""

    def __init__(self) -> None:
        self.bodies: dict[tuple[int, str], bytes] = {}

    def month(self, community_id: int, month: int, pods: list[tuple[str, bool]]) -> None:
        rng = random.Random(community_id * 100 + month)
        hours = hours_of(month)
        shapes = [
            (h.isoformat(), max(math.sin((h.astimezone(ITALY).hour - 6) / 12 * math.pi), 0.0))
            for h in hours
        ]
        items = []
        for pod, producer in pods:
            rows = []
            for start, sun in shapes:
                fed = sun * rng.uniform(8, 40) if producer else 0.0
                rows.append(
                    {
                        "start": start,
                        "fed_in_kwh": round(fed, 3),
                        "withdrawn_kwh": round(rng.uniform(0.2, 2.5), 3),
                        "source": "official",
                    }
                )
            items.append({"pod": pod, "plant_id": 0, "hours": rows})
        period = f"{YEAR}-{month:02d}"
        body = {"community_id": community_id, "month": period, "official_complete": True}
        self.bodies[(community_id, period)] = json.dumps(
            {"success": True, "data": {**body, "pods": items}}
        ).encode()

    async def handle(self, request: web.Request) -> web.Response:
        key = (int(request.query["community_id"]), request.query["month"])
        return web.Response(body=self.bodies[key], content_type="application/json")


async def community(
    maker: async_sessionmaker[AsyncSession], community_id: int, points: int
) -> list[tuple[str, bool]]:
    """The registry read model of a community of `points` points (a third producers)."""
    events: list[Any] = [
        CommunityCreated(
            community_id=community_id,
            code=f"B{community_id}",
            name=f"Bench {community_id}",
            market_zone="NORD",
            is_active=True,
            distribution_shares=[
                SharesPeriod(
                    valid_from=date(YEAR - 1, 1, 1),
                    producers_pct=Decimal(50),
                    consumers_pct=Decimal(40),
                    community_fund_pct=Decimal(10),
                )
            ],
        )
    ]
    pods = []
    for i in range(points):
        user = community_id * 100_000 + i + 2
        producer = i % 3 == 0
        pod = f"IT001E{community_id % 100:02d}{i:06d}"
        pods.append((pod, producer))
        events.append(
            MembershipStarted(
                membership_id=user,
                community_id=community_id,
                user_id=user,
                role="MEMBER",
                member_type="ENTERPRISE" if i % 7 == 0 else "PRIVATE",
                body_type="NONE",
                valid_from=date(YEAR - 1, 1, 1),
                valid_to=None,
            )
        )
        events.append(
            PlantRegistered(
                plant_id=user,
                pod=pod,
                name=f"P{i}",
                community_id=community_id,
                owner_user_id=user,
                plant_type="PRODUCER" if producer else "CONSUMER",
                nominal_power_kw=Decimal(50 if producer else 6),
                technology="PV" if producer else None,
                entry_into_service=date(YEAR - 1, 6, 1) if producer else None,
                region="Lombardia",
                primary_substation=f"AC001E{i % 20:05d}",
                market_zone="NORD",
                capital_grant_eur_per_kw=Decimal(0),
                connection_voltage="BT",
                valid_from=date(YEAR - 1, 1, 1),
                valid_to=None,
            )
        )
    events.append(
        MembershipStarted(
            membership_id=community_id * 100_000 + 1,
            community_id=community_id,
            user_id=ADMIN,
            role="ADMIN",
            member_type="PRIVATE",
            body_type="NONE",
            valid_from=date(YEAR - 1, 1, 1),
            valid_to=None,
        )
    )
    async with maker() as session, session.begin():
        for event in events:
            await registry.apply(
                session, EventEnvelope.wrap(event, producer="cer", correlation_id=None)
            )
    return pods


async def prices(maker: async_sessionmaker[AsyncSession]) -> None:
    rows = [
        {"zone": "NORD", "hour_utc": h, "eur_mwh": Decimal(90 + h.hour), "source": "bench"}
        for month in range(1, 13)
        for h in hours_of(month)
    ]
    async with maker() as session, session.begin():
        for i in range(0, len(rows), 2000):
            await session.execute(
                insert(ZonalPrice).values(rows[i : i + 2000]).on_conflict_do_nothing()
            )


async def settle(client: Any, community_id: int, months: list[int]) -> list[dict[str, Any]]:
    headers = TOKENS.headers(ADMIN)
    ids = []
    for month in months:
        asked = await client.post(
            "/api/economic/settlements/",
            json={
                "community_id": community_id,
                "period": f"{YEAR}-{month:02d}",
                "kind": "PROVISIONAL",
            },
            headers=headers,
        )
        if asked.status_code != 202:
            raise SystemExit(f"settlement refused: {asked.status_code} {asked.text}")
        ids.append(asked.json()["data"]["id"])
    done: dict[int, dict[str, Any]] = {}
    while len(done) < len(ids):
        for run_id in ids:
            if run_id in done:
                continue
            run = (
                await client.get(f"/api/economic/settlements/{run_id}/", headers=headers)
            ).json()["data"]
            if run["status"] == "FAILED":
                raise SystemExit(f"run {run_id} failed: {run['errors']}")
            if run["status"] == "COMPLETED":
                done[run_id] = run
        await asyncio.sleep(0.02)
    return [done[i] for i in ids]


async def main(points: int, batch_points: int) -> None:
    print(f"machine: {describe()}")
    energy = Energy()
    app = web.Application(client_max_size=2**31)
    app.router.add_get("/internal/energy/pod-hours/", energy.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    dsn = kit.prepare_database("economic", DATABASE, ROOT / "services" / "economic")
    settings = EconomicSettings(
        database_url=dsn,
        environment="test",
        energy_url=f"http://127.0.0.1:{port}",
        consume_read_models=False,
        settle_poll_interval_s=0.02,
        log_level="WARNING",
    )
    try:
        async with kit.running_app(create_app(settings), settings, TOKENS) as service:
            maker: async_sessionmaker[AsyncSession] = service.state.sessionmaker
            await prices(maker)
            async with kit.asgi_client(service, "http://economic") as client:
                pods = await community(maker, 11, points)
                energy.month(11, 6, pods)
                started = time.perf_counter()
                (run,) = await settle(client, 11, [6])
                settled_s = time.perf_counter() - started
                started = time.perf_counter()
                approved = await client.post(
                    f"/api/economic/settlements/{run['id']}/approve/", headers=TOKENS.headers(ADMIN)
                )
                approve_s = time.perf_counter() - started
                if approved.status_code != 200:
                    raise SystemExit(f"approval refused: {approved.text}")
                print(
                    f"one month, {points} points ({len(pods) * len(hours_of(6)):,} POD-hours): "
                    f"settled in {settled_s:.2f} s (request to COMPLETED), approved and posted "
                    f"in {approve_s * 1000:.0f} ms; total {run['total_eur']} EUR, "
                    f"{len(run['members'])} members"
                )
                if batch_points:
                    pods = await community(maker, 12, batch_points)
                    built = time.perf_counter()
                    for month in range(1, 13):
                        energy.month(12, month, pods)
                    print(f"  (batch input of {batch_points} points built in "
                          f"{time.perf_counter() - built:.0f} s, not counted)")  # fmt: skip
                    started = time.perf_counter()
                    runs = await settle(client, 12, list(range(1, 13)))
                    batch_s = time.perf_counter() - started
                    hours = sum(len(hours_of(m)) for m in range(1, 13)) * batch_points
                    print(
                        f"a year of months, {batch_points} points as a batch (12 runs, "
                        f"{hours:,} POD-hours): {batch_s:.1f} s, {batch_s / 12:.1f} s a month; "
                        f"year total {sum(Decimal(r['total_eur']) for r in runs)} EUR"
                    )
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--batch-points", type=int, default=10_000, help="0: skip the batch")
    args = parser.parse_args()
    asyncio.run(main(args.points, args.batch_points))
