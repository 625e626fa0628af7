"""The web app in a browser through the gateway, as a manager and members use it.

The app is built (`npm run build`, its API types generated from the services'
OpenAPI documents), the demo community is loaded into the e2e fleet, and
web/e2e/run.mjs drives Debian's chromium with playwright-core: sign-in, the
overview, energy, a settlement run, devices (credentials shown once), members,
imports, the money pages (a month settled and approved, a payout batch whose
downloaded pain.001 totals the approved amount, the bank's pain.002 uploaded,
the GSE reconciliation, reports downloaded, prices and the admin's import), a
period edited, a member on a phone seeing only their own page, their
statements, their data downloaded (only theirs) and the erasure confirmation, a
person erasing their account, a manager of two communities switching, a member
of another community getting "not found" on a deep link, axe-core on every
page, and no CSP refusal. Screenshots of each page go to .run/web-screenshots/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import demo_official_data
import dev_seed
import httpx
import pytest

from .conftest import (
    E2E_DATABASE,
    ROOT,
    STRONG_PASSWORD,
    Fleet,
    bearer,
    fleet_script,
    register,
    register_and_login,
)

WEB = ROOT / "web"
# The month the browser settles, approves and pays out. Not demo_official_data's
# 2025-06: test_economic_demo pays that one in the same fleet, leaving nothing owed.
PAYOUT_MONTH = "2025-07"
SCREENSHOTS = ROOT / ".run" / "web-screenshots"
CHROMIUM = "/usr/bin/chromium"
OTHER_SECOND = "CER Seconda Valle"


@pytest.fixture(scope="module")
def built_app() -> Path:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm (Node 20) is needed for the web app: `make web-deps` says how")
    if not (WEB / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True)
    return WEB / "dist"


def other_community_member(fleet: Fleet) -> str:
    """A user who runs a community of their own, not the demo one."""
    tokens = register_and_login(fleet, "web-e2e-other")
    created = httpx.post(
        f"{fleet.gateway}/api/cer/",
        json={
            "name": "CER Altra Valle",
            "code": "WEB-E2E-OTHER",
            "market_zone": "NORD",
            "distribution_shares": {
                "valid_from": "2025-01-01",
                "producers_pct": "55",
                "consumers_pct": "35",
                "community_fund_pct": "10",
            },
        },
        headers=bearer(tokens),
    )
    assert created.status_code in (201, 409), created.text
    # A second community of theirs: the header's switcher then offers both.
    second = httpx.post(
        f"{fleet.gateway}/api/cer/",
        json={
            "name": OTHER_SECOND,
            "code": "WEB-E2E-OTHER-2",
            "market_zone": "NORD",
            "distribution_shares": {
                "valid_from": "2025-01-01",
                "producers_pct": "55",
                "consumers_pct": "35",
                "community_fund_pct": "10",
            },
        },
        headers=bearer(tokens),
    )
    assert second.status_code in (201, 409), second.text
    return "web-e2e-other"


def demo_community_id(fleet: Fleet) -> int:
    login = httpx.post(
        f"{fleet.gateway}/api/auth/login/",
        json={"username": "demo-manager", "password": "Demo-Community-2025"},
    )
    assert login.status_code == 200, login.text
    listed = httpx.get(f"{fleet.gateway}/api/cer/", headers=bearer(login.json()["data"]))
    return next(int(c["id"]) for c in listed.json()["data"] if c["code"] == "DEMO-BERGAMO")


def test_the_web_app_in_a_browser(fleet: Fleet, built_app: Path) -> None:
    assert (built_app / "index.html").is_file()
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo_community.py"), "--gateway", fleet.gateway],
        cwd=ROOT,
        check=True,
    )
    # The platform admin and the services' clients (a settlement reads energy
    # with economic's token), and a month of official data and prices to pay.
    dev_seed.create_admin(fleet.ports, E2E_DATABASE)
    fleet_script.ensure_dev_clients(fleet.ports, E2E_DATABASE, dev_seed.DEMO_ADMIN[0])
    demo_official_data.seed(fleet.gateway, PAYOUT_MONTH, fleet.ports, E2E_DATABASE)
    other = other_community_member(fleet)
    # A fresh account for the two-step verification walk (it turns 2FA on).
    two_factor = f"web-e2e-2fa-{uuid.uuid4().hex[:8]}"
    assert register(fleet, two_factor).status_code == 201
    # A fresh account that erases itself in the browser.
    eraser = f"web-e2e-erase-{uuid.uuid4().hex[:8]}"
    assert register(fleet, eraser).status_code == 201
    demo_id = demo_community_id(fleet)
    # The gateway serves the app at / with the app's CSP, and the API's
    # headers are unchanged.
    page = httpx.get(f"{fleet.gateway}/cer/{demo_id}")
    assert page.status_code == 200 and '<div id="root">' in page.text
    assert page.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # no inline script
    api = httpx.get(f"{fleet.gateway}/api/auth/jwks/")
    assert api.headers["cache-control"] == "no-store"
    assert api.headers["content-security-policy"].startswith("default-src 'none'")

    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    env = {
        **os.environ,
        "CERC_GATEWAY": fleet.gateway,
        "CERC_SCREENSHOTS": str(SCREENSHOTS),
        "CERC_OTHER_USER": other,
        "CERC_DEMO_CER_ID": str(demo_id),
        "CERC_TFA_USER": two_factor,
        "CERC_TFA_PASSWORD": STRONG_PASSWORD,
        "CERC_OTHER_PASSWORD": STRONG_PASSWORD,
        "CERC_CHROMIUM": CHROMIUM,
        "CERC_PAYOUT_MONTH": PAYOUT_MONTH,
        "CERC_ADMIN_USER": dev_seed.DEMO_ADMIN[0],
        "CERC_ADMIN_PASSWORD": dev_seed.DEMO_ADMIN[2],
        "CERC_ERASE_USER": eraser,
        "CERC_ERASE_PASSWORD": STRONG_PASSWORD,
        "CERC_OTHER_SECOND_NAME": OTHER_SECOND,
    }
    run = subprocess.run(
        ["node", "e2e/run.mjs"], cwd=WEB, env=env, capture_output=True, text=True, timeout=600
    )
    print(run.stdout)
    assert run.returncode == 0, f"browser suite failed:\n{run.stdout}\n{run.stderr[-3000:]}"
    assert "0 failed" in run.stdout
    # Each check that ran printed "ok": the two-step and other-community walks included.
    assert run.stdout.count("\nok   ") + run.stdout.startswith("ok   ") >= 28, run.stdout
    assert len(list(SCREENSHOTS.glob("*.png"))) >= 26


def test_hashed_assets_are_immutable_and_gzipped(fleet: Fleet, built_app: Path) -> None:
    index = httpx.get(f"{fleet.gateway}/").text
    script = index.split('src="', 1)[1].split('"', 1)[0]
    assert script.startswith("/assets/")
    asset = httpx.get(f"{fleet.gateway}{script}", headers={"Accept-Encoding": "gzip"})
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asset.headers["content-encoding"] == "gzip"
    assert asset.headers["content-type"].startswith("text/javascript")
    # A hashed name that is gone is a 404, never index.html served as script.
    missing = httpx.get(f"{fleet.gateway}/assets/index-gone.js")
    assert missing.status_code == 404
    # Health and unknown API paths are not the app's.
    assert httpx.get(f"{fleet.gateway}/healthz").status_code == 404
