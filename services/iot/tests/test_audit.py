"""The device audit trail (issue 12, item 11): provisioning, rotation, commands
and revocation, each with the acting user, the community of the device's stay
and the request's correlation id; read by that community's administrators
(paged) and the platform's, 404 to anyone else."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import ADMIN_HEADERS, CER_ADMIN, MEMBER, OWNER, STRANGER, bearer, unique_id
from .test_devices import provisioned  # noqa: F401

pytestmark = pytest.mark.usefixtures("community")


async def test_device_actions_are_audited_for_the_community(
    client: httpx.AsyncClient,
    provisioned: list[str],  # noqa: F811
) -> None:
    device_id = unique_id()
    provisioned.append(device_id)
    path = f"/api/iot/devices/{device_id}/"
    steps: list[tuple[str, str, dict[str, Any] | None, int]] = [
        ("POST", "/api/iot/devices/", {"device_id": device_id, "plant_id": 1000,
                                       "model": "Shelly Pro 3EM"}, 201),
        ("POST", f"{path}credentials/", None, 200),
        ("POST", f"{path}commands/", {"command": "reboot"}, 202),
        ("DELETE", path, None, 200),
    ]  # fmt: skip
    for n, (method, url, body, expected) in enumerate(steps):
        answer = await client.request(
            method, url, json=body, headers={**bearer(CER_ADMIN), "x-request-id": f"req-{n}"}
        )
        assert answer.status_code == expected, answer.text

    trail = await client.get(
        "/api/iot/audit/", params={"community_id": 100, "device_id": device_id},
        headers=bearer(CER_ADMIN),
    )  # fmt: skip
    assert trail.status_code == 200, trail.text
    entries = trail.json()["data"]
    assert [(e["action"], e["correlation_id"]) for e in entries] == [
        ("device.revoked", "req-3"),
        ("device.command_sent", "req-2"),
        ("device.credentials_rotated", "req-1"),
        ("device.provisioned", "req-0"),
    ]
    assert {(e["actor_user_id"], e["community_id"], e["entity_id"]) for e in entries} == {
        (CER_ADMIN, 100, device_id)
    }
    assert entries[1]["after"]["command"] == "reboot"
    assert entries[0]["after"]["reason"] == "request"

    paged = await client.get(
        "/api/iot/audit/", params={"community_id": 100, "device_id": device_id, "per_page": 3,
                                   "page": 2}, headers=bearer(CER_ADMIN),
    )  # fmt: skip
    assert [e["action"] for e in paged.json()["data"]] == ["device.provisioned"]
    assert paged.json()["meta"]["total"] == 4

    platform = await client.get(
        "/api/iot/audit/", params={"device_id": device_id}, headers=ADMIN_HEADERS
    )
    assert platform.json()["meta"]["total"] == 4
    for user in (OWNER, MEMBER, STRANGER):
        refused = await client.get(
            "/api/iot/audit/", params={"community_id": 100}, headers=bearer(user)
        )
        assert refused.status_code == 404, (user, refused.text)
    unbounded = await client.get("/api/iot/audit/", headers=bearer(CER_ADMIN))
    assert unbounded.status_code == 422, unbounded.text


async def test_a_refused_action_leaves_no_entry(
    client: httpx.AsyncClient,
    provisioned: list[str],  # noqa: F811
) -> None:
    device_id = unique_id()
    refused = await client.post(
        "/api/iot/devices/", json={"device_id": device_id, "plant_id": 1000, "model": "x"},
        headers=bearer(OWNER),
    )  # fmt: skip
    assert refused.status_code == 403
    trail = await client.get(
        "/api/iot/audit/", params={"device_id": device_id}, headers=ADMIN_HEADERS
    )
    assert trail.json()["data"] == []
