"""The demo prices as `make dev` loads them (scripts/demo_prices.py): through Envoy, as a
platform admin, a year of daily files per upload; read back by a member of the public."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import httpx
from cerc_shared.clock import italian_today

from .conftest import (
    E2E_DATABASE,
    ROOT,
    STRONG_PASSWORD,
    Fleet,
    bearer,
    fleet_script,
    register_and_login,
)

ADMIN = "e2e-prices-admin"


def load_demo_prices(fleet: Fleet) -> str:
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo_prices.py"), "--gateway", fleet.gateway,
         "--username", ADMIN, "--password", STRONG_PASSWORD],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_make_dev_loads_the_demo_prices_through_the_gateway(fleet: Fleet) -> None:
    user = next(s for s in fleet_script.FLEET if s.name == "user")
    subprocess.run(
        [sys.executable, "-m", "user_service.cli", "create-admin", "--username", ADMIN,
         "--email", f"{ADMIN}@example.it"],
        input=STRONG_PASSWORD + "\n", text=True, check=True, cwd=ROOT,
        env=fleet_script.service_env(user, fleet.ports, E2E_DATABASE),
    )  # fmt: skip
    today = italian_today()
    first = load_demo_prices(fleet)
    assert f"demo zonal prices {today.year - 1}: " in first, first
    assert "unchanged" not in first
    again = load_demo_prices(fleet)
    assert again.count("unchanged") == 2, again
    assert "TRASe" not in again  # added once, then left alone

    reader = register_and_login(fleet, "e2e-prices-reader")
    yesterday = today - timedelta(days=1)
    response = httpx.get(
        f"{fleet.gateway}/api/economic/prices/",
        params={"zone": "NORD", "from": yesterday.isoformat(), "to": yesterday.isoformat()},
        headers=bearer(reader),
    )
    assert response.status_code == 200, response.text
    hours = response.json()["data"]
    assert len(hours) in (23, 24, 25) and response.json()["meta"]["total"] == len(hours)
    assert all(h["zone"] == "NORD" and float(h["eur_mwh"]) > 0 for h in hours)
    refused = httpx.post(
        f"{fleet.gateway}/api/economic/prices/imports/",
        files={"file": ("p.xml", b"<x/>")},
        headers=bearer(reader),
    )
    assert refused.status_code == 403
