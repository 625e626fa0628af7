"""The fleet the fuzz tests share (openapi_fuzz.py): started once, Envoy in
front, and the demo community seeded as `make dev` seeds it, carried through a
settled, approved and paid month and a report, so generated ids and bodies
reach real rows of every service."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from .openapi_fuzz import CONTRACT_DATABASE, ROOT, fleet, gateway, login, start, stop

COMMUNITY_IBAN = "IT60X0542811101000000123456"


@pytest.fixture(scope="session")
def ports() -> Iterator[dict[str, int]]:
    try:
        yield start()
    finally:
        stop()


@dataclass(frozen=True)
class Demo:
    community_id: int
    manager_token: str
    admin_token: str


def _check(response: httpx.Response, *ok: int) -> dict[str, object]:
    assert response.status_code in ok, f"{response.request.url}: {response.text[:600]}"
    body: dict[str, object] = response.json()["data"]
    return body


def _eventually(read: httpx.Client, path: str, headers: dict[str, str], done: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if done in read.get(path, headers=headers).text:
            return
        time.sleep(0.5)
    raise AssertionError(f"{path} never showed {done!r}")


@pytest.fixture(scope="session")
def demo(ports: dict[str, int]) -> Demo:
    """The demo community with a settlement run approved, a payout batch, the
    manager's notifications and a monthly report: the manager's token fuzzes."""
    # scripts/ is on the path (openapi_fuzz): the seeding of `make dev`, reused.
    import demo_community
    import demo_official_data
    import dev_seed

    dev_seed.create_admin(ports, CONTRACT_DATABASE)
    fleet.ensure_dev_clients(ports, CONTRACT_DATABASE, dev_seed.DEMO_ADMIN[0])
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo_community.py"), "--gateway", gateway(ports)],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    month = demo_official_data.DEMO_MONTH
    cid = demo_official_data.seed(gateway(ports), month, ports, CONTRACT_DATABASE)
    token = login(ports, "demo-manager", demo_community.PASSWORD)
    auth = {"Authorization": f"Bearer {token}"}
    http = httpx.Client(base_url=gateway(ports), timeout=60)

    run = _check(
        http.post(
            "/api/economic/settlements/",
            json={"community_id": cid, "period": month, "kind": "PROVISIONAL"},
            headers=auth,
        ),
        202,
    )
    _eventually(http, f"/api/economic/settlements/{run['id']}/", auth, '"COMPLETED"')
    _check(http.post(f"/api/economic/settlements/{run['id']}/approve/", headers=auth), 200)
    _check(
        http.put(
            "/api/economic/payouts/account/",
            json={"community_id": cid, "debtor_name": "CER Demo Bergamo", "iban": COMMUNITY_IBAN},
            headers=auth,
        ),
        200,
    )
    _check(http.post("/api/economic/payouts/", json={"community_id": cid}, headers=auth), 201)
    report = _check(
        http.post(
            "/api/reports/",
            json={"kind": "MONTHLY_COMMUNITY", "community_id": cid, "period": month},
            headers=auth,
        ),
        202,
    )
    _eventually(http, f"/api/reports/{report['id']}/", auth, '"DONE"')
    # The manager is told a run awaits approval (notification, from settlement.v1).
    _eventually(http, "/api/notifications/", auth, "settlement.awaiting_approval")
    admin = login(ports, dev_seed.DEMO_ADMIN[0], dev_seed.DEMO_ADMIN[2])
    return Demo(community_id=cid, manager_token=token, admin_token=admin)
