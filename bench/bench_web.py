"""The web app: the manager's overview loaded through the gateway, to interactive.

    uv run python bench/bench_web.py

Starts its own fleet (BENCH_WEB_OFFSET, default 3700) with its own database,
loads the demo community, builds the app if web/dist is missing, and drives
Debian's chromium (web/e2e/bench-overview.mjs, playwright-core): five cold loads
(empty cache, a new browser context each) and five warm ones. Printed: time
to interactive (the overview's figures rendered and the main thread free),
DOMContentLoaded, and the JavaScript shipped for the first load as sent
(gzip); then a year of hourly points drawn on the energy page, with the
longest main-thread task meanwhile. Targets (issue 17): < 2 s to interactive,
< 300 kB of JS compressed, a year of hours without freezing the page.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))

import fleet  # noqa: E402
from machine import describe  # noqa: E402

OFFSET = int(os.environ.get("BENCH_WEB_OFFSET", "3700"))
DATABASE = "cercollettiva_bench_web"
DEMO_PASSWORD = "Demo-Community-2025"  # noqa: S105 - the published demo login


def run(*argv: str, **kwargs: object) -> None:
    subprocess.run(list(argv), check=True, cwd=ROOT, **kwargs)  # type: ignore[call-overload]


def main() -> None:
    if not (ROOT / "web" / "dist" / "index.html").is_file():
        run("make", "web")
    run("bash", "infra/postgres/bootstrap-db.sh", DATABASE, "--recreate", capture_output=True)
    fleet_cmd = [sys.executable, "scripts/fleet.py"]
    run(*fleet_cmd, "down", "--port-offset", str(OFFSET), capture_output=True)
    run(*fleet_cmd, "up", "--port-offset", str(OFFSET), "--database", DATABASE, capture_output=True)
    try:
        gateway = f"http://127.0.0.1:{fleet.read_ports(OFFSET)['GATEWAY_PORT']}"
        run(sys.executable, "scripts/demo_community.py", "--gateway", gateway, capture_output=True)
        login = httpx.post(
            f"{gateway}/api/auth/login/",
            json={"username": "demo-manager", "password": DEMO_PASSWORD},
        ).raise_for_status()
        tokens = login.json()["data"]
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        listed = httpx.get(f"{gateway}/api/cer/", headers=headers).raise_for_status()
        cid = next(c["id"] for c in listed.json()["data"] if c["code"] == "DEMO-BERGAMO")
        session = json.dumps({**tokens, "expires_at": 4102444800000})
        env = {**os.environ, "CERC_GATEWAY": gateway, "CERC_DEMO_CER_ID": str(cid),
               "CERC_SESSION": session}  # fmt: skip
        out = subprocess.run(
            ["node", str(ROOT / "web" / "e2e" / "bench-overview.mjs")],
            cwd=ROOT / "web", env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if out.returncode != 0:
            raise SystemExit(f"bench-overview.mjs failed:\n{out.stdout}\n{out.stderr[-2000:]}")
        loads = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    finally:
        run(*fleet_cmd, "down", "--port-offset", str(OFFSET), "--end-bridge-session",
            capture_output=True)  # fmt: skip
    cold = [x for x in loads if x["kind"] == "cold"]
    warm = [x for x in loads if x["kind"] == "warm"]
    if not cold or not warm:
        raise SystemExit(f"no timings parsed from bench-overview.mjs: {out.stdout!r}")
    print(f"machine: {describe()}")
    print("manager overview through the gateway, headless chromium, demo community:")
    for name, rows in (("cold (empty cache)", cold), ("warm (cached assets)", warm)):
        tti = [r["interactive_ms"] for r in rows]
        dcl = [r["dom_content_loaded_ms"] for r in rows]
        print(
            f"  {name:21} to interactive median {statistics.median(tti):.0f} ms "
            f"(min {min(tti)}, max {max(tti)}; target < 2000), "
            f"DOMContentLoaded median {statistics.median(dcl):.0f} ms, n={len(rows)}"
        )
    year = [x for x in loads if x["kind"] == "year-hourly"]
    if not year:
        raise SystemExit(f"no year-of-hours timing parsed from bench-overview.mjs: {out.stdout!r}")
    print(
        f"  a year of hourly points ({year[0]['points']} per series, 3 series) on the energy page: "
        f"drawn {year[0]['drawn_ms']} ms after choosing the view (6 API calls included), "
        f"longest main-thread task {year[0]['longest_task_ms']} ms"
    )
    first = cold[0]
    print(
        f"  JavaScript for the first load: {first['js_bytes_on_wire'] / 1024:.1f} kB as sent "
        f"(gzip) in {first['js_files']} file(s) (aim < 300 kB)"
    )


if __name__ == "__main__":
    main()
