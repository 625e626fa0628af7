"""The CER registry under load, through Envoy: a community of 10,000 plants and
5,000 members; p50/p95/p99 of a paginated, filtered plant list and of the
community summary at 50 concurrent clients (vegeta, a native load generator,
50 workers each waiting for its answer; loopback only, bounded in time).
Target: p95 under 100 ms.

    uv run python bench/bench_cer.py [--seconds 10] [--concurrency 50] [--workers 2]

The fleet (user, cer, gateway) runs on its own ports and database, the CER
service with --workers uvicorn processes. The community is created through
the API; its members and plants are then written straight into the CER schema
(15,000 API calls would only measure the seeding), as the service's own role.
The plant list draws each request's type, substation and page at random
(480 distinct pages). Measured three times: in steady state, the read cache
warm (read_cache.py: answers kept per registry version) with the caller's role
and the version remembered until PostgreSQL announces a change
(registry_watch.py); the same with the role and version asked of PostgreSQL on
every request (CERC_CER_REGISTRY_WATCH_STAMPS=0); and with both off, every
answer computed from PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))
import fleet  # noqa: E402
from machine import describe  # noqa: E402

OFFSET = 4000
DATABASE = "cercollettiva_bench_cer"
PASSWORD = "Correct-Horse-42"  # noqa: S105 - a throwaway benchmark account
PLANTS, MEMBERS, SUBSTATIONS = 10_000, 5_000, 20

SEED_MEMBERS = """
INSERT INTO memberships (community_id, user_id, role, member_type, body_type, valid_from)
SELECT $1, 1000000 + i, 'MEMBER',
       CASE WHEN i % 10 = 0 THEN 'ENTERPRISE' ELSE 'PRIVATE' END, 'NONE', DATE '2025-01-01'
FROM generate_series(1, $2) AS i
"""

SEED_PLANTS = """
INSERT INTO plants (name, pod, plant_type, community_id, owner_user_id, nominal_power_kw,
                    technology, entry_into_service, address, city, province, region, zip_code,
                    primary_substation, market_zone, capital_grant_eur_per_kw, is_active)
SELECT 'Impianto ' || i, 'IT001E' || lpad(i::text, 8, '0'),
       (ARRAY['CONSUMER', 'PRODUCER', 'PROSUMER'])[1 + i % 3], $1, 1000000 + 1 + i % $2,
       round((3 + (i * 7919) % 500)::numeric / 3, 2),
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'PV' END,
       CASE WHEN i % 3 = 0 THEN NULL ELSE DATE '2022-01-01' + (i % 900) END,
       'Via Bench ' || i, 'Bergamo', 'BG', 'Lombardia', '24121',
       'AC001E' || lpad((i % $4)::text, 5, '0'), 'NORD', 0, true
FROM generate_series(1, $3) AS i
"""

SEED_PERIODS = """
INSERT INTO plant_periods (plant_id, community_id, valid_from)
SELECT id, $1, DATE '2025-01-01' FROM plants WHERE community_id = $1
"""


def start(workers: int, settings: dict[str, str] | None = None) -> dict[str, int]:
    stop()
    env = {**os.environ, "CERC_FLEET_WORKERS": str(workers), **(settings or {})}
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/fleet.py"), "up", "--only", "user,cer",
         "--port-offset", str(OFFSET), "--database", DATABASE],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    ports: dict[str, int] = fleet.read_ports(OFFSET)
    return ports


def recreate_database() -> None:
    subprocess.run(
        ["bash", str(ROOT / "infra/postgres/bootstrap-db.sh"), DATABASE, "--recreate"],
        check=True, capture_output=True,
    )  # fmt: skip


def stop() -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/fleet.py"), "down", "--port-offset", str(OFFSET)],
        check=True, capture_output=True,
    )  # fmt: skip


def manager_token(gateway: str) -> str:
    body = {"username": "bench-manager", "email": "bench-manager@example.it",
            "password": PASSWORD, "first_name": "Bench", "last_name": "Manager"}  # fmt: skip
    httpx.post(f"{gateway}/api/auth/register/", json=body, timeout=10)
    login = httpx.post(
        f"{gateway}/api/auth/login/",
        json={"username": "bench-manager", "password": PASSWORD},
        timeout=10,
    )
    login.raise_for_status()
    token: str = login.json()["data"]["access_token"]
    deadline = time.monotonic() + 30  # Envoy fetches the JWKS in the background
    while time.monotonic() < deadline:
        probe = httpx.get(f"{gateway}/api/cer/", headers={"Authorization": f"Bearer {token}"})
        if probe.status_code == 200:
            return token
        time.sleep(0.3)
    raise SystemExit("the gateway never accepted the benchmark token")


def create_community(gateway: str, token: str) -> int:
    created = httpx.post(
        f"{gateway}/api/cer/",
        headers={"Authorization": f"Bearer {token}"},
        json={"name": "CER Bench", "code": "BENCH", "market_zone": "NORD",
              "distribution_shares": {"producers_pct": "50", "consumers_pct": "40",
                                      "community_fund_pct": "10"}},
    )  # fmt: skip
    created.raise_for_status()
    cid: int = created.json()["data"]["id"]
    return cid


async def seed(ports: dict[str, int], cid: int) -> None:
    conn = await asyncpg.connect(
        user="cer_svc",
        password="cer_dev",  # noqa: S106 - development key (infra/postgres.sh)
        host="127.0.0.1",
        port=ports["PG_PORT"],
        database=DATABASE,
        server_settings={"search_path": "cer"},
    )
    try:
        async with conn.transaction():
            await conn.execute(SEED_MEMBERS, cid, MEMBERS)
            await conn.execute(SEED_PLANTS, cid, MEMBERS, PLANTS, SUBSTATIONS)
            await conn.execute(SEED_PERIODS, cid)
        # Steady state: statistics and the visibility map autovacuum would keep.
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def vegeta() -> str:
    found = shutil.which("vegeta") or str(Path.home() / ".cache/cercollettiva/bin/vegeta")
    if not Path(found).exists():
        raise SystemExit("vegeta not found: run `make bench` (bench/tools.sh installs it)")
    return found


def attack(targets: list[str], token: str, seconds: float, concurrency: int) -> dict[str, float]:
    """A closed loop: `concurrency` workers, each sending its next request when
    the last is answered, cycling through `targets`."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as file:
        file.write("".join(f"GET {url}\n\n" for url in targets))
    try:
        results = subprocess.run(
            [vegeta(), "attack", "-targets", file.name, "-rate", "0",
             "-workers", str(concurrency), "-max-workers", str(concurrency),
             "-duration", f"{seconds}s", "-header", f"Authorization: Bearer {token}"],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
        report = subprocess.run(
            [vegeta(), "report", "-type", "json"], input=results, check=True, capture_output=True
        ).stdout
    finally:
        os.unlink(file.name)
    data = json.loads(report)
    ms = {k: v / 1e6 for k, v in data["latencies"].items()}
    return {"requests": data["requests"], "throughput": data["throughput"],
            "success": data["success"], "p50": ms["50th"], "p95": ms["95th"],
            "p99": ms["99th"]}  # fmt: skip


def report(name: str, r: dict[str, float]) -> None:
    print(f"{name}: {r['requests']:.0f} requests ({r['throughput']:.0f}/s), "
          f"success {r['success']:.1%}; p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms, "
          f"p99 {r['p99']:.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn processes of the CER service"
    )
    args = parser.parse_args()
    print(f"machine: {describe()}")
    recreate_database()
    ports = start(args.workers)
    try:
        gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
        token = manager_token(gateway)
        cid = create_community(gateway, token)
        asyncio.run(seed(ports, cid))
        auth = {"Authorization": f"Bearer {token}"}
        data = httpx.get(f"{gateway}/api/cer/{cid}/", headers=auth).json()["data"]
        print(
            f"community {cid}: {data['members_count']} members, {data['plants_count']} plants,"
            f" {len(data['power_by_substation'])} substations, {data['total_power']} kW;"
            f" CER service with {args.workers} workers"
        )
        rng = random.Random(7)
        plant_pages = [
            f"{gateway}/api/plants/?cer_id={cid}"
            f"&plant_type={rng.choice(['CONSUMER', 'PRODUCER', 'PROSUMER'])}"
            f"&primary_substation=AC001E{rng.randrange(SUBSTATIONS):05d}"
            f"&is_active=true&sort=-nominal_power_kw&page={rng.randint(1, 8)}&per_page=20"
            for _ in range(5000)
        ]
        cases = (("plant list (filtered, sorted, paged)", plant_pages),
                 ("community summary", [f"{gateway}/api/cer/{cid}/"]))  # fmt: skip
        no_stamps = {"CERC_CER_REGISTRY_WATCH_STAMPS": "0"}
        modes = (("read cache warm", None),
                 ("read cache warm, stamps asked each time", no_stamps),
                 ("read cache off", {**no_stamps, "CERC_CER_READ_CACHE_BYTES": "0"}))  # fmt: skip
        for label, settings in modes:
            if settings is not None:
                start(args.workers, settings)
                token = manager_token(gateway)
            cached = "CERC_CER_READ_CACHE_BYTES" not in (settings or {})
            for name, targets in cases:
                attack(targets, token, 10 if cached else 2, args.concurrency)  # warm-up
                result = attack(targets, token, args.seconds, args.concurrency)
                report(f"{name}, {label}, {args.concurrency} clients", result)
        print("target: p95 under 100 ms")
    finally:
        stop()


if __name__ == "__main__":
    main()
