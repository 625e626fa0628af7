"""Authenticated GET /api/users/me/ through Envoy at 50 concurrent clients,
measured in the same run as Envoy in front of an empty FastAPI endpoint (the
floor: same JWT check, same proxying, no work behind it). Prints requests/s
and p50/p95/p99 for both, and the overhead as a ratio. Loopback only,
bounded in time. Target on 2 cores: p95 under 50 ms.

    uv run python bench/bench_gateway.py [--seconds 10] [--concurrency 50]
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
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))
import fleet  # noqa: E402
from machine import describe  # noqa: E402

OFFSET = 3000
DATABASE = "cercollettiva_bench"
PASSWORD = "Correct-Horse-42"  # noqa: S105 - a throwaway benchmark account

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


def hey(url: str, token: str, seconds: int, concurrency: int) -> dict[str, float]:
    hey_bin = shutil.which("hey")
    if hey_bin is None:
        raise SystemExit("hey not found: run through `make bench` (bench/run.sh installs it)")
    out = subprocess.run(
        [hey_bin, "-z", f"{seconds}s", "-c", str(concurrency),
         "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "95", "99"):
        match = re.search(rf"{pct}%% in ([\d.]+) secs", out)
        figures[f"p{pct}_ms"] = float(match.group(1)) * 1000 if match else float("nan")
    codes = re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)
    figures["non_200"] = sum(int(n) for code, n in codes if code != "200")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()

    subprocess.run(
        ["bash", str(ROOT / "infra/postgres/bootstrap-db.sh"), DATABASE, "--recreate"],
        check=True, capture_output=True,
    )  # fmt: skip
    run = [sys.executable, str(ROOT / "scripts/fleet.py")]
    subprocess.run([*run, "down", "--port-offset", str(OFFSET)], check=True)
    # One worker per core, as a deployment on this machine would run it.
    workers = str(os.cpu_count() or 1)
    subprocess.run(
        [*run, "up", "--only", "user", "--port-offset", str(OFFSET), "--database", DATABASE],
        check=True,
        env={**os.environ, "CERC_FLEET_WORKERS": workers},
    )
    ports = fleet.read_ports(OFFSET)
    gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
    user_url = f"http://127.0.0.1:{ports['USER_PORT']}"
    floor_proc = floor_envoy = None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            httpx.post(f"{gateway}/api/auth/register/", json={
                "username": "bench", "email": "bench@example.it", "password": PASSWORD,
                "first_name": "Bench", "last_name": "Mark"})  # fmt: skip
            token = httpx.post(
                f"{gateway}/api/auth/login/", json={"username": "bench", "password": PASSWORD}
            ).json()["data"]["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            wait_ok(f"{gateway}/api/users/me/", auth)

            # The floor: the same Envoy config, every upstream an empty FastAPI app.
            app_file = Path(tmp) / "empty_app.py"
            app_file.write_text(EMPTY_APP.format(jwks=f"{user_url}/api/auth/jwks/"))
            empty_port, listen, admin = free_port(), free_port(), free_port()
            floor_proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "empty_app:app", "--port", str(empty_port),
                 "--no-access-log", "--log-level", "warning"],
                cwd=tmp,
            )  # fmt: skip
            wait_ok(f"http://127.0.0.1:{empty_port}/api/auth/jwks/")
            config = Path(tmp) / "envoy.yaml"
            subprocess.run(
                [sys.executable, str(ROOT / "gateway/render.py"), "--out", str(config),
                 "--upstream-port", str(empty_port), "--listen-port", str(listen),
                 "--admin-port", str(admin), "--access-log-path", str(Path(tmp) / "a.log")],
                check=True,
            )  # fmt: skip
            floor_envoy = subprocess.Popen(
                [str(Path(sys.executable).parent / "envoy"), "-c", str(config),
                 "--disable-hot-restart", "--log-level", "warn"],
            )  # fmt: skip
            floor_url = f"http://127.0.0.1:{listen}/api/users/me/"
            wait_ok(floor_url, auth)

            hey(f"{gateway}/api/users/me/", token, 2, args.concurrency)  # warm up
            floor = hey(floor_url, token, args.seconds, args.concurrency)
            real = hey(f"{gateway}/api/users/me/", token, args.seconds, args.concurrency)
        finally:
            for proc in (floor_envoy, floor_proc):
                if proc is not None:
                    proc.terminate()
                    proc.wait(timeout=10)
            subprocess.run([*run, "down", "--port-offset", str(OFFSET)], check=True)

    print(f"\n== gateway: authenticated GET /api/users/me/, {args.concurrency} clients, "
          f"{args.seconds} s each ==")  # fmt: skip
    print(f"machine: {describe()}; user service: {workers} uvicorn workers")
    print(f"{'':38} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'non-200':>8}")
    for name, f in (
        ("floor: Envoy + empty FastAPI", floor),
        ("Envoy + user service + Postgres", real),
    ):
        print(f"{name:38} {f['rps']:9.0f} {f['p50_ms']:8.1f} {f['p95_ms']:8.1f} "
              f"{f['p99_ms']:8.1f} {f['non_200']:8.0f}")  # fmt: skip
    p95_ratio = real["p95_ms"] / floor["p95_ms"]
    rps_ratio = floor["rps"] / real["rps"]
    print(f"overhead over the floor: p95 x{p95_ratio:.2f}, throughput x{rps_ratio:.2f} lower "
          f"(target p95 < 50 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
