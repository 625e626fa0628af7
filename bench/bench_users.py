"""10,000 signed-in users reading their dashboard through the gateway.

The specification asks for 10,000 concurrent users. Each simulated user holds
its own keep-alive connection to the gateway (Envoy) and, at a human pace
(a think time of --think-s on average between page views), reads what its
dashboard shows: its profile (GET /api/users/me/) and its communities
(GET /api/cer/). Users are opened over --ramp-s, then every request of the
next --seconds is timed. Prints requests/s, latency percentiles, errors by
kind, and how many users held their connection throughout.

The fleet (user and cer services, one worker per core, and the gateway) runs
on its own ports and database (as bench_gateway.py: offset 3000,
cercollettiva_bench). The 10,000 accounts are copies of one registered
account made in SQL (same password hash: registering each would spend minutes
on argon2), and their access tokens are signed with the fleet's development
key, as a login would sign them.

    uv run python bench/bench_users.py [--users 10000] [--seconds 60] [--think-s 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))
import fleet  # noqa: E402
from machine import describe  # noqa: E402

OFFSET = 3000
DATABASE = "cercollettiva_bench"
PASSWORD = "Correct-Horse-42"  # noqa: S105 - a throwaway benchmark account
PAGES = ("/api/users/me/", "/api/cer/")


async def make_users(count: int, gateway: str, pg_port: int) -> list[tuple[int, str]]:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{gateway}/api/auth/register/",
            json={"username": "load-0", "email": "load-0@example.it", "password": PASSWORD,
                  "first_name": "Load", "last_name": "Test"},
        )  # fmt: skip
        if response.status_code not in (201, 409):
            raise SystemExit(f"could not register the template user: {response.text}")
    conn = await asyncpg.connect(
        f"postgresql://user_svc:user_dev@127.0.0.1:{pg_port}/{DATABASE}",
        server_settings={"search_path": "user"},
    )
    try:
        await conn.execute(
            "DELETE FROM users WHERE username LIKE 'load-%' AND username <> 'load-0'"
        )
        rows = await conn.fetch(
            "INSERT INTO users (username, email, first_name, last_name, user_type, is_active,"
            " password_hash, failed_logins)"
            " SELECT 'load-' || g, 'load-' || g || '@example.it', first_name, last_name,"
            " user_type, true, password_hash, 0"
            " FROM users, generate_series(1, $1) g WHERE username = 'load-0'"
            " RETURNING id, username",
            count,
        )
    finally:
        await conn.close()
    if len(rows) != count:
        raise SystemExit(f"made {len(rows)} of {count} users")
    return [(r["id"], r["username"]) for r in rows]


def sign_tokens(users: list[tuple[int, str]]) -> list[str]:
    # The fleet's user service signs with the checkout's development key
    # (.run/user/jwt-dev-only.pem, relative to the repository root).
    os.chdir(ROOT)
    from user_service.settings import UserSettings
    from user_service.tokens import issue_access_token, load_signing_key

    # The checkout's development key (unset environment means production).
    settings = UserSettings(environment="development")
    key = load_signing_key(settings)
    return [
        issue_access_token(key, settings, user_id=uid, username=name, user_type="PRIVATE").token
        for uid, name in users
    ]


class Results:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.measuring = False
        self.connected_users = 0
        self.dropped_users = 0


async def user(
    gateway: str, token: str, start_in: float, think_s: float, stop: asyncio.Event, r: Results
) -> None:
    await asyncio.sleep(start_in)
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=1, force_close=False, keepalive_timeout=300)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        r.connected_users += 1
        # A first view at once, then a page every think time (0.5x to 1.5x).
        while not stop.is_set():
            for page in PAGES:
                started = time.perf_counter()
                try:
                    async with session.get(gateway + page, headers=headers) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    if r.measuring:
                        r.errors[type(exc).__name__] += 1
                    continue
                if r.measuring:
                    r.latencies.append(time.perf_counter() - started)
                    if status != 200:
                        r.errors[f"HTTP {status}"] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), think_s * random.uniform(0.5, 1.5))
    r.connected_users -= 1


async def load(gateway: str, tokens: list[str], args: argparse.Namespace) -> Results:
    r = Results()
    stop = asyncio.Event()
    spread = args.ramp_s / max(1, len(tokens))
    tasks = [
        asyncio.create_task(user(gateway, token, i * spread, args.think_s, stop, r))
        for i, token in enumerate(tokens)
    ]
    await asyncio.sleep(args.ramp_s + 2)
    opened = r.connected_users
    r.measuring = True
    await asyncio.sleep(args.seconds)
    r.measuring = False
    r.dropped_users = opened - r.connected_users
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    r.connected_users = opened
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think-s", type=float, default=10, help="mean seconds between page views")
    parser.add_argument("--ramp-s", type=float, default=30)
    args = parser.parse_args()

    subprocess.run(
        ["bash", str(ROOT / "infra/postgres/bootstrap-db.sh"), DATABASE, "--recreate"],
        check=True, capture_output=True,
    )  # fmt: skip
    run = [sys.executable, str(ROOT / "scripts/fleet.py")]
    subprocess.run([*run, "down", "--port-offset", str(OFFSET)], check=True)
    workers = str(os.cpu_count() or 1)
    subprocess.run(
        [*run, "up", "--only", "user,cer", "--port-offset", str(OFFSET), "--database", DATABASE],
        check=True,
        env={**os.environ, "CERC_FLEET_WORKERS": workers},
    )
    ports = fleet.read_ports(OFFSET)
    gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
    try:
        users = asyncio.run(make_users(args.users, gateway, ports["PG_PORT"]))
        tokens = sign_tokens(users)
        r = asyncio.run(load(gateway, tokens, args))
    finally:
        subprocess.run([*run, "down", "--port-offset", str(OFFSET)], check=True)

    if not r.latencies:
        raise SystemExit("no request completed in the measured window")
    ordered = sorted(r.latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    total = len(ordered) + sum(v for k, v in r.errors.items() if not k.startswith("HTTP"))
    print(f"\n== {args.users:,} users through the gateway: {' + '.join(PAGES)} every "
          f"~{args.think_s:g} s each, {args.seconds:g} s measured after a "
          f"{args.ramp_s:g} s ramp ==")  # fmt: skip
    print(f"machine: {describe()}; user and cer services: {workers} uvicorn workers each")
    print(f"users connected: {r.connected_users:,}; lost their connection while measured: "
          f"{r.dropped_users:,}")  # fmt: skip
    print(f"requests: {total:,} ({total / args.seconds:,.0f}/s); latency ms p50 {pct(0.50):.1f}, "
          f"p95 {pct(0.95):.1f}, p99 {pct(0.99):.1f}, max {ordered[-1] * 1000:.1f}; "
          f"mean {statistics.fmean(ordered) * 1000:.1f}")  # fmt: skip
    errors = ", ".join(f"{k}: {v:,}" for k, v in r.errors.most_common()) or "none"
    print(f"errors: {errors}")


if __name__ == "__main__":
    main()
