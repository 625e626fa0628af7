"""The audit trail through the gateway (issue 12, item 11): an entry's
correlation id is the gateway's request id, never what the client sent as
``x-request-id``; a community's administrator reads their devices' trail, a
platform administrator the logins."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import httpx

from .conftest import (
    E2E_DATABASE,
    ROOT,
    STRONG_PASSWORD,
    Fleet,
    bearer,
    fleet_script,
    login,
    register_and_login,
)
from .test_energy_measurements import community_with_plant, eventually

FORGED = "forged-request-id-0001"


def _trail(fleet: Fleet, path: str, tokens: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    answer = httpx.get(f"{fleet.gateway}{path}", params=params, headers=bearer(tokens))
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["data"]
    return entries


def test_device_audit_keeps_the_gateways_request_id_not_the_clients(fleet: Fleet) -> None:
    gw, run = fleet.gateway, uuid.uuid4().hex[:6]
    manager, plant_id = community_with_plant(fleet, f"audit{run}")
    device_id = f"audited-{run}"
    provisioned = eventually(
        lambda: httpx.post(
            f"{gw}/api/iot/devices/",
            json={"device_id": device_id, "plant_id": plant_id, "model": "spec", "interval_s": 900},
            headers={**bearer(manager), "x-request-id": FORGED},
        ),
        lambda r: r.status_code != 404,  # until the IoT service has heard of the plant
        "the plant known to the IoT service",
    )
    assert provisioned.status_code == 201, provisioned.text
    gateway_id = provisioned.headers["x-request-id"]
    assert gateway_id and gateway_id != FORGED
    plant = httpx.get(f"{gw}/api/plants/{plant_id}/", headers=bearer(manager)).json()["data"]
    community_id = plant["community_id"]

    [entry] = _trail(fleet, "/api/iot/audit/", manager, community_id=community_id,
                     device_id=device_id)  # fmt: skip
    assert entry["action"] == "device.provisioned"
    assert entry["correlation_id"] == gateway_id != FORGED
    assert entry["community_id"] == community_id

    stranger = register_and_login(fleet, f"audit-stranger-{run}")
    other = httpx.get(
        f"{gw}/api/iot/audit/", params={"community_id": community_id}, headers=bearer(stranger)
    )
    assert other.status_code == 404, other.text


def test_login_audit_keeps_the_gateways_request_id_not_the_clients(fleet: Fleet) -> None:
    run = uuid.uuid4().hex[:6]
    admin_name, name = f"audit-admin-{run}", f"audit-login-{run}"
    user = next(s for s in fleet_script.FLEET if s.name == "user")
    subprocess.run(
        [sys.executable, "-m", "user_service.cli", "create-admin", "--username", admin_name,
         "--email", f"{admin_name}@example.it"],
        input=STRONG_PASSWORD + "\n", text=True, check=True, cwd=ROOT,
        env=fleet_script.service_env(user, fleet.ports, E2E_DATABASE),
    )  # fmt: skip
    register_and_login(fleet, name)
    failed = httpx.post(
        f"{fleet.gateway}/api/auth/login/",
        json={"username": name, "password": "Wrong-pass-1"},
        headers={"x-request-id": FORGED},
    )
    assert failed.status_code == 401, failed.text
    gateway_id = failed.headers["x-request-id"]
    assert gateway_id and gateway_id != FORGED

    admin = login(fleet, admin_name).json()["data"]
    entries = _trail(fleet, "/api/users/audit/", admin, correlation_id=gateway_id)
    assert [(e["action"], e["after"]["reason"]) for e in entries] == [
        ("login.failed", "credentials")
    ]
    assert _trail(fleet, "/api/users/audit/", admin, correlation_id=FORGED) == []
    member = httpx.get(f"{fleet.gateway}/api/users/audit/", headers=bearer(
        register_and_login(fleet, f"audit-member-{run}")))  # fmt: skip
    assert member.status_code == 403
