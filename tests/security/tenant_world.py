"""Two communities for the cross-tenant matrix, built through the gateway.

A is the demo community as `make dev` seeds it (scripts/demo_community.py and
demo_official_data.py, reused as they are): its manager (A-admin), a plain
member who owns no plant used below (A-member), plants, official readings, a
device with a command, a settlement approved and paid out, a transaction, a
GSE sync job, a report, pending invitations, a notification. B is a second
community with its own admin (B-admin) and member (B-member); an outsider
belongs to none. ``values`` holds A's objects by the name a route gives its
parameter; ``markers`` are strings of A that no answer to B may contain.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import demo_community
import demo_official_data
import dev_seed
import fleet as fleet_script
import httpx

from .conftest import ROOT, SECURITY_DATABASE

PASSWORD = "Correct-Horse-42"
MONTH = demo_official_data.DEMO_MONTH
DEVICE = "matrix-meter-a1"
# The names ``World.values`` fills (a parameter's name, or "service:name" where
# two services give one name to different objects).
VALUE_NAMES = frozenset({
    "community_id", "cer_id", "plant_id", "device_id", "command_id", "import_id",
    "energy:job_id", "economic:job_id", "run_id", "tx_id", "payout_id", "report_id", "user_id",
    "reference", "invitation_id", "notification_id", "client_id", "kind", "month", "period",
    "year",
})  # fmt: skip


@dataclass
class World:
    gateway: str
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    markers: list[str] = field(default_factory=list)

    def call(self, actor: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = self.headers[actor] if actor else {}
        with httpx.stream(
            method, f"{self.gateway}{path}", headers=headers, timeout=60, **kwargs
        ) as response:
            # A live stream (Server-Sent Events) never ends: its status is the answer.
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                response.read()
        return response


def _data(response: httpx.Response, *ok: int) -> Any:
    assert response.status_code in ok, f"{response.request.url}: {response.text[:800]}"
    return response.json()["data"]


def _until(what: str, probe: Any, timeout_s: float = 90) -> Any:
    """Events cross services through Kafka: retry ``probe`` until it gives a value."""
    deadline = time.monotonic() + timeout_s
    while (value := probe()) is None:
        assert time.monotonic() < deadline, f"{what}: not there after {timeout_s} s"
        time.sleep(0.3)
    return value


def _login(gateway: str, username: str, password: str) -> dict[str, str]:
    response = httpx.post(
        f"{gateway}/api/auth/login/", json={"username": username, "password": password}
    )
    token = _data(response, 200)["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _register(gateway: str, username: str) -> dict[str, str]:
    body = {"username": username, "email": f"{username}@example.it", "password": PASSWORD,
            "first_name": username.title(), "last_name": "Matrix"}  # fmt: skip
    _data(httpx.post(f"{gateway}/api/auth/register/", json=body), 201)
    return _login(gateway, username, PASSWORD)


def _invite(world: World, admin: str, cid: int, username: str) -> int:
    terms = {"email": f"{username}@example.it", "role": "MEMBER", "member_type": "PRIVATE",
             "joined_on": "2025-01-01"}  # fmt: skip
    sent = _data(world.call(admin, "POST", f"/api/cer/{cid}/invitations/", json=terms), 202)
    invitation_id: int = sent["invitation_id"]
    return invitation_id


def _accept(world: World, person: str, invitation_id: int) -> None:
    def arrived() -> bool | None:
        mine = _data(world.call(person, "GET", "/api/cer/invitations/mine/"), 200)
        return True if invitation_id in [i["invitation_id"] for i in mine] else None

    _until("the invitation", arrived)
    path = f"/api/cer/invitations/{invitation_id}/accept/"
    own = {"tax_code": "RSSMRA85T10A562S", "iban": "IT60X0542811101000000123456"}
    _data(world.call(person, "POST", path, json=own), 201)


def _posted(world: World, path: str, body: dict[str, Any]) -> Callable[[], Any]:
    """A probe for _until: A-admin's POST, retried while the service does not
    know A's object yet (404); its data once created."""

    def probe() -> Any:
        response = world.call("A-admin", "POST", path, json=body)
        if response.status_code == 404:
            return None
        return _data(response, 200, 201, 202)

    return probe


def build(ports: dict[str, int]) -> World:
    gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
    world = World(gateway=gateway)
    # The platform admin and the services' own clients, as `make dev` registers them.
    dev_seed.create_admin(ports, SECURITY_DATABASE)
    fleet_script.ensure_dev_clients(ports, SECURITY_DATABASE, dev_seed.DEMO_ADMIN[0])
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo_community.py"), "--gateway", gateway],
        check=True, cwd=ROOT, capture_output=True,
    )  # fmt: skip
    cid = demo_official_data.seed(gateway, MONTH, ports, SECURITY_DATABASE)
    world.headers["platform"] = _login(gateway, dev_seed.DEMO_ADMIN[0], dev_seed.DEMO_ADMIN[2])
    world.headers["A-admin"] = _login(gateway, "demo-manager", demo_community.PASSWORD)
    world.headers["A-member"] = _login(gateway, "demo-bruno", demo_community.PASSWORD)
    for name in ("B-admin", "B-member", "outsider", "A-invitee"):
        world.headers[name] = _register(gateway, f"matrix-{name.lower()}")

    community_b = _data(world.call("B-admin", "POST", "/api/cer/", json={
        "name": "CER Matrix Beta", "code": "MATRIX-B", "market_zone": "NORD",
        "distribution_shares": {"producers_pct": "50", "consumers_pct": "40",
                                "community_fund_pct": "10", "valid_from": "2025-01-01"},
    }), 201)["id"]  # fmt: skip
    _accept(world, "B-member", _invite(world, "B-admin", community_b, "matrix-b-member"))

    member_id = _data(world.call("A-member", "GET", "/api/users/me/"), 200)["id"]
    plants = _data(world.call("A-admin", "GET", f"/api/plants/?cer_id={cid}&per_page=100"), 200)
    # A plant of someone else than A-member: what a member may not touch.
    plant = next(p for p in plants if p["owner_user_id"] != member_id)
    device = {"device_id": DEVICE, "plant_id": plant["id"], "model": "Shelly Pro 3EM"}
    _until("the device's plant at the iot service", _posted(world, "/api/iot/devices/", device))
    command = _data(world.call("A-admin", "POST", f"/api/iot/devices/{DEVICE}/commands/",
                               json={"command": "reboot"}), 201, 202)  # fmt: skip
    imports = _data(world.call("A-admin", "GET", f"/api/energy/imports/?community_id={cid}"), 200)
    job = _data(world.call("A-admin", "POST", "/api/energy/imports/",
                           data={"community_id": str(cid), "background": "true"},
                           files={"file": ("late.csv", b"not a meter file\n", "text/csv")}),
                202)  # fmt: skip

    run = _data(world.call("A-admin", "POST", "/api/economic/settlements/",
                           json={"community_id": cid, "period": MONTH, "kind": "PROVISIONAL"}),
                202)  # fmt: skip

    def finished() -> dict[str, Any] | None:
        got = _data(world.call("A-admin", "GET", f"/api/economic/settlements/{run['id']}/"), 200)
        return got if got["status"] in ("COMPLETED", "FAILED") else None

    assert _until("the settlement run", finished, 180)["status"] == "COMPLETED"
    _data(world.call("A-admin", "POST", f"/api/economic/settlements/{run['id']}/approve/"), 200)
    _data(world.call("A-admin", "PUT", "/api/economic/payouts/account/", json={
        "community_id": cid, "debtor_name": "CER Demo Bergamo",
        "iban": "IT60X0542811101000000123456"}), 200)  # fmt: skip
    payout = _data(world.call("A-admin", "POST", "/api/economic/payouts/",
                              json={"community_id": cid}), 201)  # fmt: skip
    tx = _data(world.call("A-admin", "POST", "/api/economic/transactions/", json={
        "community_id": cid, "kind": "GSE_PAYMENT", "amount": "1.00"}), 201)  # fmt: skip
    gse_job = _until(
        "the GSE sync (the community at the economic service)",
        _posted(world, "/api/economic/gse/sync/", {"community_id": cid}),
    )
    report = _data(world.call("A-admin", "POST", "/api/reports/", json={
        "kind": "MONTHLY_COMMUNITY", "community_id": cid, "period": MONTH, "format": "CSV",
    }), 201, 202)  # fmt: skip
    to_accept = _invite(world, "A-admin", cid, "matrix-a-invitee")
    to_withdraw = _invite(world, "A-admin", cid, "matrix-nobody")
    notification = _until(
        "a notification for A-member",
        lambda: (_data(world.call("A-member", "GET", "/api/notifications/"), 200) or [None])[0],
    )
    throwaway = {"name": "matrix throwaway", "kind": "SERVICE", "scopes": ["energy:read"]}
    client = _data(world.call("platform", "POST", "/api/auth/clients/", json=throwaway), 201)

    world.values = {
        "community_id": cid, "cer_id": cid, "plant_id": plant["id"], "device_id": DEVICE,
        "command_id": command["command_id"], "import_id": imports[0]["id"],
        "energy:job_id": job["job_id"] if "job_id" in job else job["id"],
        "economic:job_id": gse_job["id"], "run_id": run["id"], "tx_id": tx["id"],
        "payout_id": payout["id"], "report_id": report["id"],
        # Another member than A-member: a member may leave (DELETE themselves), not others.
        "user_id": plant["owner_user_id"],
        "reference": to_accept, "invitation_id": to_withdraw,
        "notification_id": notification["id"], "client_id": client["client_id"],
        "kind": "statute", "month": MONTH, "period": MONTH, "year": MONTH[:4],
    }  # fmt: skip
    assert set(world.values) == VALUE_NAMES
    world.markers = ["CER Demo Bergamo", "DEMO-BERGAMO", "demo-bruno", "demo-anna",
                     plant["pod"], DEVICE]  # fmt: skip
    return world
