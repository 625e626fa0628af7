"""Authenticated reads through Envoy at 50 concurrent clients (hey, a native
load generator; loopback only, bounded in time). Target on 2 cores: p95 under
50 ms for the first two.

1. the floor: Envoy in front of an empty FastAPI endpoint (same JWT check,
   same proxying, no work behind it);
2. ``GET /api/users/me/`` (the user service and PostgreSQL);
3. a manager's ``GET /api/plants/?per_page=20`` on the 8-plant demo community
   (the CER service; no ``cer_id``: every community the caller may read);
4. a plant's day at hour resolution, ``GET /api/energy/measurements/?plant_id=
   ...&resolution=hour&start=...&end=...`` as its owner (the energy service and
   InfluxDB; a baseline for issue 13, target p95 under 100 ms there);
5. the manager's community month by day, ``GET /api/energy/aggregations/?by=
   community&resolution=day&...`` (the other dashboard read of issue 13, same
   target: the community's hourly sums are kept ahead of time).

Prints requests/s and p50/p95/p99 for each, with the machine, the uvicorn
workers per service and the load average before each run (the machine is
shared: a load well above the bench's own means noisy figures). Stops with an
error if hey's report cannot be read or a request was not answered 200.

    uv run python bench/bench_gateway.py [--seconds 10] [--concurrency 50] [--workers 1]

The fleet (user, cer, energy, gateway) runs on its own ports and database, as
`make dev` runs it (``--workers`` uvicorn processes per service, default 1),
with the demo community of scripts/demo_community.py.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))
import fleet  # noqa: E402
from machine import describe  # noqa: E402

OFFSET = 3000
DATABASE = "cercollettiva_bench"
DEMO_PASSWORD = "Demo-Community-2025"  # noqa: S105 - the published demo login
ROME = ZoneInfo("Europe/Rome")

EMPTY_APP = textwrap.dedent(
    """
    import httpx
    from fastapi import FastAPI

    JWKS = httpx.get("{jwks}").json()
    app = FastAPI()

    @app.get("/api/auth/jwks/")
    async def jwks() -> dict:
        return JWKS

    @app.get("/api/users/me/")
    async def me() -> dict:
        return {{"success": True, "data": {{}}, "meta": None, "errors": []}}
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ok(url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"not ready: {url}")


def hey_bin() -> str:
    found = shutil.which("hey") or str(Path.home() / ".cache/cercollettiva/bin/hey")
    if not Path(found).exists():
        raise SystemExit("hey not found: run through `make bench` (bench/tools.sh installs it)")
    return found


def parse_hey(out: str) -> dict[str, float]:
    """hey's summary as figures; anything missing stops the bench: a figure that did
    not parse is no figure."""
    figures: dict[str, float] = {}
    patterns = {
        "rps": r"Requests/sec:\s+([\d.]+)",
        "p50_ms": r"\b50% in ([\d.]+) secs",
        "p95_ms": r"\b95% in ([\d.]+) secs",
        "p99_ms": r"\b99% in ([\d.]+) secs",
    }
    for name, pattern in patterns.items():
        match = re.search(pattern, out)
        if match is None:
            raise SystemExit(f"cannot read {name} ({pattern!r}) in hey's report:\n{out}")
        value = float(match.group(1))
        figures[name] = value * 1000 if name.endswith("_ms") else value
    codes = re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)
    if not codes:
        raise SystemExit(f"no status code distribution in hey's report:\n{out}")
    figures["responses"] = sum(int(n) for _, n in codes)
    figures["non_200"] = sum(int(n) for code, n in codes if code != "200")
    errors = out.split("Error distribution:", 1)
    figures["errors"] = (
        sum(int(n) for n in re.findall(r"\[(\d+)\]", errors[1])) if len(errors) == 2 else 0
    )
    return figures


def hey(url: str, token: str, seconds: float, concurrency: int) -> dict[str, float]:
    out = subprocess.run(
        [hey_bin(), "-z", f"{seconds}s", "-c", str(concurrency),
         "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    figures = parse_hey(out)
    if figures["non_200"] or figures["errors"]:
        raise SystemExit(f"{url}: not every request was answered 200:\n{out}")
    return figures


class Demo:
    """The demo community through the gateway, and what the bench reads of it."""

    def __init__(self, gateway: str) -> None:
        self.gateway = gateway
        self.http = httpx.Client(base_url=gateway, timeout=15)

    def token(self, username: str) -> str:
        login = self.http.post(
            "/api/auth/login/", json={"username": username, "password": DEMO_PASSWORD}
        )
        login.raise_for_status()
        token: str = login.json()["data"]["access_token"]
        return token

    def get(self, path: str, token: str) -> dict[str, Any]:
        response = self.http.get(path, headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code} {response.text}")
        body: dict[str, Any] = response.json()
        return body

    def one_day_of_readings(self, writer: str, token: str, plant_id: int, day: date) -> str:
        """96 quarter-hour manual readings of ``day`` (Italian time) for the
        plant, added by ``writer`` (manual readings are an administrator's); the
        query of its day by hour as ``token``, once the energy service has them."""
        start = datetime.combine(day, clock(), ROME)
        end = datetime.combine(day + timedelta(days=1), clock(), ROME)
        readings = [
            {"timestamp": (start + timedelta(minutes=15 * (i + 1))).astimezone(UTC).isoformat(),
             "interval_s": 900, "energy_produced_kwh": round(0.5 + (i % 40) / 20, 3),
             "energy_consumed_kwh": round(0.2 + (i % 7) / 10, 3)}
            for i in range(96)
        ]  # fmt: skip
        auth = {"Authorization": f"Bearer {writer}"}
        deadline = time.monotonic() + 60
        # The energy service learns of the plant from plant.v1: give it a moment.
        while True:
            posted = self.http.post(
                f"/api/plants/{plant_id}/measurements/",
                headers=auth,
                json={"source": "manual", "readings": readings},
            )
            if posted.status_code == 202:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"readings not accepted: {posted.status_code} {posted.text}")
            time.sleep(0.5)
        query = httpx.QueryParams(
            plant_id=plant_id, resolution="hour", start=start.isoformat(), end=end.isoformat()
        )
        path = f"/api/energy/measurements/?{query}"
        while self.get(path, token)["meta"]["total"] < 24:
            if time.monotonic() > deadline:
                raise SystemExit(f"the day's readings never became readable: {path}")
            time.sleep(0.5)
        return path


def start_floor(tmp: Path, user_url: str) -> tuple[list[subprocess.Popen[bytes]], str]:
    """The same Envoy config, every upstream an empty FastAPI app."""
    app_file = tmp / "empty_app.py"
    app_file.write_text(EMPTY_APP.format(jwks=f"{user_url}/api/auth/jwks/"))
    empty_port, listen, admin = free_port(), free_port(), free_port()
    app_argv = [sys.executable, "-m", "uvicorn", "empty_app:app", "--port", str(empty_port),
                "--no-access-log", "--log-level", "warning",
                "--timeout-keep-alive", "75"]  # fmt: skip
    procs = [subprocess.Popen(app_argv, cwd=tmp)]
    wait_ok(f"http://127.0.0.1:{empty_port}/api/auth/jwks/")
    config = tmp / "envoy.yaml"
    subprocess.run(
        [sys.executable, str(ROOT / "gateway/render.py"), "--out", str(config),
         "--upstream-port", str(empty_port), "--listen-port", str(listen),
         "--admin-port", str(admin), "--access-log-path", str(tmp / "a.log")],
        check=True, capture_output=True,
    )  # fmt: skip
    envoy = [str(Path(sys.executable).parent / "envoy"), "-c", str(config),
             "--disable-hot-restart", "--log-level", "warn"]  # fmt: skip
    procs.append(subprocess.Popen(envoy))
    return procs, f"http://127.0.0.1:{listen}/api/users/me/"


def fleet_cmd(*args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/fleet.py"), *args, "--port-offset", str(OFFSET)],
        check=True, capture_output=True, env=env,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn processes per service")
    parser.add_argument(
        "--only",
        default="floor,me,plants,energy,community",
        help="which measurements (comma-separated)",
    )
    args = parser.parse_args()
    chosen = set(args.only.split(","))
    print(f"machine: {describe()}; {args.workers} uvicorn worker(s) per service")

    subprocess.run(
        ["bash", str(ROOT / "infra/postgres/bootstrap-db.sh"), DATABASE, "--recreate"],
        check=True, capture_output=True,
    )  # fmt: skip
    fleet_cmd("down")
    # One token stands for 50 clients: the gateway's per-user and per-address
    # limits (5,000 and 20,000 a second locally) still run, but never trip.
    os.environ.update(CERC_GATEWAY_USER_LIMIT="1000000", CERC_GATEWAY_ADDRESS_LIMIT="1000000")
    env = {**os.environ, "CERC_FLEET_WORKERS": str(args.workers)}
    fleet_cmd("up", "--only", "user,cer,energy", "--database", DATABASE, env=env)
    ports = fleet.read_ports(OFFSET)
    gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
    floor_procs: list[subprocess.Popen[bytes]] = []
    results: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(
                [sys.executable, str(ROOT / "scripts/demo_community.py"), "--gateway", gateway],
                check=True, capture_output=True,
            )  # fmt: skip
            demo = Demo(gateway)
            manager, owner = demo.token("demo-manager"), demo.token("demo-anna")
            me = f"{gateway}/api/users/me/"
            plants = f"{gateway}/api/plants/?per_page=20"
            listed = demo.get("/api/plants/?per_page=20", manager)["meta"]["total"]
            own = demo.get("/api/plants/?per_page=20", owner)["data"][0]
            day = datetime.now(ROME).date() - timedelta(days=1)
            energy = gateway + demo.one_day_of_readings(manager, owner, own["id"], day)
            community_id = own["community_id"]
            month = datetime.combine(day.replace(day=1), clock(), ROME)
            month_end = datetime.combine(
                (month + timedelta(days=32)).date().replace(day=1), clock(), ROME
            )
            month_query = httpx.QueryParams(
                by="community", community_id=community_id, resolution="day",
                start=month.isoformat(), end=month_end.isoformat(),
            )  # fmt: skip
            community_month = f"{gateway}/api/energy/aggregations/?{month_query}"
            days = len(demo.get(f"/api/energy/aggregations/?{month_query}", manager)["data"])

            cases: list[tuple[str, str, str, str]] = []
            if "floor" in chosen:
                floor_procs, floor_url = start_floor(
                    Path(tmp), f"http://127.0.0.1:{ports['USER_PORT']}"
                )
                wait_ok(floor_url, {"Authorization": f"Bearer {manager}"})
                cases.append(("floor", "floor: Envoy + empty FastAPI", floor_url, manager))
            cases += [
                ("me", "GET /api/users/me/", me, manager),
                ("plants", f"manager's GET /api/plants/?per_page=20 ({listed} plants)",
                 plants, manager),
                ("energy", f"owner's plant day by hour, {day} (24 buckets)", energy, owner),
                ("community", f"manager's community month by day ({days} buckets)",
                 community_month, manager),
            ]  # fmt: skip
            for key, name, url, token in cases:
                if key not in chosen:
                    continue
                hey(url, token, 2, args.concurrency)  # warm up
                load = os.getloadavg()[0]
                figures = hey(url, token, args.seconds, args.concurrency)
                figures["load"] = load
                results.append((name, figures))
                print(f"  {name}: {figures['rps']:.0f} req/s, p95 {figures['p95_ms']:.1f} ms",
                      flush=True)  # fmt: skip
        finally:
            for proc in reversed(floor_procs):
                proc.terminate()
                proc.wait(timeout=10)
            fleet_cmd("down")

    print(f"\n== authenticated reads through Envoy, {args.concurrency} clients, "
          f"{args.seconds:g} s each ==")  # fmt: skip
    print(f"machine: {describe()}; {args.workers} uvicorn worker(s) per service")
    print(f"{'':58} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'load':>5}")
    for name, f in results:
        print(f"{name:58} {f['rps']:7.0f} {f['p50_ms']:7.1f} {f['p95_ms']:7.1f} "
              f"{f['p99_ms']:7.1f} {f['load']:5.1f}")  # fmt: skip
    print("target: p95 < 50 ms (me, plants); < 100 ms (energy, community: issue 13). "
          "load: 1-minute load average before the run")  # fmt: skip


if __name__ == "__main__":
    main()
