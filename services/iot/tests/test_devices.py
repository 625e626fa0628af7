from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiomqtt
import httpx
import pytest
from fastapi import FastAPI
from iot_service import service
from iot_service.models import Device, outbox
from iot_service.mqtt.topics import device_username
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import (
    ADMIN_HEADERS,
    CER_ADMIN,
    MEMBER,
    OWNER,
    STRANGER,
    bearer,
    unique_id,
)
from .mqtt_helpers import collect, connect

pytestmark = pytest.mark.usefixtures("community")


@pytest.fixture
async def provisioned(app: FastAPI) -> AsyncIterator[list[str]]:
    """Device ids created in Mosquitto by a test, removed from it afterwards
    (the database side is rolled back)."""
    created: list[str] = []
    yield created
    for device_id in created:
        await app.state.iot_context.dynsec.remove_device(
            username=device_username(device_id), device_id=device_id
        )


async def _register(
    client: httpx.AsyncClient, created: list[str], plant_id: int = 1000, **extra: object
) -> dict[str, object]:
    device_id = str(extra.pop("device_id", unique_id()))
    body = {"device_id": device_id, "plant_id": plant_id, "model": "Shelly Pro 3EM", **extra}
    response = await client.post("/api/iot/devices/", json=body, headers=bearer(CER_ADMIN))
    assert response.status_code == 201, response.text
    created.append(device_id)
    data: dict[str, object] = response.json()["data"]
    return data


async def _counts(maker: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with maker() as session:
        devices = await session.scalar(select(func.count()).select_from(Device))
        events = await session.scalar(select(func.count()).select_from(outbox))
    return int(devices or 0), int(events or 0)


async def test_provisioned_device_publishes_only_under_its_own_topics(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    provisioned: list[str],
) -> None:
    data = await _register(client, provisioned, firmware="1.4.2", interval_s=60)
    device, creds = data["device"], data["credentials"]
    assert isinstance(device, dict) and isinstance(creds, dict)
    device_id = device["device_id"]
    assert device["status"] == "OFFLINE" and device["interval_s"] == 60
    assert creds["username"] == f"dev-{device_id}" and len(str(creds["password"])) >= 24
    assert creds["topics"]["measurements"] == f"energy/plant/1000/device/{device_id}/measurements"
    # Shown once: reading the device again never returns a password.
    again = await client.get(f"/api/iot/devices/{device_id}/", headers=bearer(OWNER))
    assert again.status_code == 200 and "password" not in again.text

    own = f"energy/plant/1000/device/{device_id}"
    async with connect("cerc_bridge", "cerc_bridge_dev") as bridge:
        await bridge.subscribe("energy/#", qos=1)
        async with connect(str(creds["username"]), str(creds["password"])) as dev:
            await dev.subscribe(f"{own}/commands", qos=1)
            await dev.publish(f"{own}/measurements", b"mine", qos=1)
            # Another plant's subtree, another device's subtree: dropped by the broker.
            await dev.publish(f"energy/plant/2000/device/{device_id}/measurements", b"x", qos=1)
            await dev.publish("energy/plant/1000/device/someone-else/measurements", b"y", qos=1)
            denied = await dev.subscribe("energy/plant/1000/#", qos=1)
            assert [r.value for r in denied] == [0x80]  # type: ignore[union-attr]
            await bridge.publish(f"{own}/commands", b"reboot", qos=1)
            received = await collect(dev, 1.5)
        seen = await collect(bridge, 1.0)
    assert (f"{own}/measurements", b"mine") in seen
    assert [t for t, _ in seen if t.endswith("/measurements")] == [f"{own}/measurements"]
    assert received == [(f"{own}/commands", b"reboot")]

    async with sessionmaker() as session:
        rows = (await session.execute(select(outbox.c.type, outbox.c.key))).all()
    assert ("device.registered", device_id) in [(r.type, r.key) for r in rows]


async def test_revoked_credentials_are_refused_at_connect(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    provisioned: list[str],
) -> None:
    data = await _register(client, provisioned)
    creds = data["credentials"]
    assert isinstance(creds, dict)
    device_id, username = str(data["device"]["device_id"]), str(creds["username"])  # type: ignore[index]
    async with connect(username, str(creds["password"])):
        pass
    owner_tries = await client.delete(f"/api/iot/devices/{device_id}/", headers=bearer(OWNER))
    assert owner_tries.status_code == 403
    revoked = await client.delete(f"/api/iot/devices/{device_id}/", headers=bearer(CER_ADMIN))
    assert revoked.status_code == 200 and revoked.json()["data"]["revoked"] is True
    with pytest.raises(aiomqtt.MqttCodeError) as refused:
        async with connect(username, str(creds["password"])):
            pass
    assert refused.value.rc in (5, 135)  # not authorised (3.1.1 / 5)
    # Revoking twice is harmless; sending it a command is not possible.
    again = await client.delete(f"/api/iot/devices/{device_id}/", headers=bearer(CER_ADMIN))
    assert again.status_code == 200
    command = await client.post(
        f"/api/iot/devices/{device_id}/commands/",
        json={"command": "reboot"},
        headers=bearer(CER_ADMIN),
    )
    assert command.status_code == 409
    async with sessionmaker() as session:
        types = list(await session.scalars(select(outbox.c.type).where(outbox.c.key == device_id)))
    assert types == ["device.registered", "device.revoked"]


async def test_rotating_credentials_retires_the_old_password(
    client: httpx.AsyncClient, provisioned: list[str]
) -> None:
    data = await _register(client, provisioned)
    old = data["credentials"]
    assert isinstance(old, dict)
    device_id, username = str(data["device"]["device_id"]), str(old["username"])  # type: ignore[index]
    rotated = await client.post(
        f"/api/iot/devices/{device_id}/credentials/", headers=bearer(CER_ADMIN)
    )
    assert rotated.status_code == 200
    new_password = rotated.json()["data"]["credentials"]["password"]
    assert new_password != old["password"]
    with pytest.raises(aiomqtt.MqttCodeError):
        async with connect(username, str(old["password"])):
            pass
    async with connect(username, new_password):
        pass


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"plant_id": 1000, "model": "m"}, "device_id"),
        ({"device_id": "has space", "plant_id": 1000, "model": "m"}, "device_id"),
        ({"device_id": "a/b/#", "plant_id": 1000, "model": "m"}, "device_id"),
        ({"device_id": "cerc_bridge", "plant_id": 1000, "model": "m"}, "device_id"),
        ({"device_id": "dev-ok-1", "plant_id": "x", "model": "m"}, "plant_id"),
        ({"device_id": "dev-ok-1", "plant_id": 1000, "model": ""}, "model"),
        ({"device_id": "dev-ok-1", "plant_id": 1000, "model": "m", "interval_s": 1}, "interval_s"),
        ({"device_id": "dev-ok-1", "plant_id": 1000, "model": "m", "colour": "red"}, "colour"),
    ],
)
async def test_bad_registration_input_names_the_field_and_writes_nothing(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    body: dict[str, object],
    field: str,
) -> None:
    before = await _counts(sessionmaker)
    response = await client.post("/api/iot/devices/", json=body, headers=bearer(CER_ADMIN))
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert response.json()["success"] is False
    assert field in [e["field"] for e in errors]
    assert await _counts(sessionmaker) == before


async def test_registration_refusals_for_plant_and_duplicates(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    provisioned: list[str],
) -> None:
    data = await _register(client, provisioned)
    device = data["device"]
    assert isinstance(device, dict)
    before = await _counts(sessionmaker)
    cases = [
        ({"device_id": unique_id(), "plant_id": 999_999, "model": "m"}, CER_ADMIN, 404, "plant_id"),
        ({"device_id": unique_id(), "plant_id": 2000, "model": "m"}, CER_ADMIN, 404, "plant_id"),
        ({"device_id": unique_id(), "plant_id": 1001, "model": "m"}, CER_ADMIN, 409, "plant_id"),
        (
            {"device_id": device["device_id"], "plant_id": 1000, "model": "m"},
            CER_ADMIN,
            409,
            "device_id",
        ),
    ]
    for body, user, code, field in cases:
        response = await client.post("/api/iot/devices/", json=body, headers=bearer(user))
        assert response.status_code == code, (body, response.text)
        assert response.json()["errors"][0]["field"] == field
    # The owner reads but does not add; a plain member is not told the plant exists.
    owner = await client.post(
        "/api/iot/devices/",
        json={"device_id": unique_id(), "plant_id": 1000, "model": "m"},
        headers=bearer(OWNER),
    )
    assert owner.status_code == 403
    member = await client.post(
        "/api/iot/devices/",
        json={"device_id": unique_id(), "plant_id": 1000, "model": "m"},
        headers=bearer(MEMBER),
    )
    assert member.status_code == 404
    assert await _counts(sessionmaker) == before


async def test_who_sees_which_device(client: httpx.AsyncClient, provisioned: list[str]) -> None:
    data = await _register(client, provisioned)
    device = data["device"]
    assert isinstance(device, dict)
    path = f"/api/iot/devices/{device['device_id']}/"
    assert (await client.get(path, headers=bearer(CER_ADMIN))).status_code == 200
    assert (await client.get(path, headers=bearer(OWNER))).status_code == 200
    assert (await client.get(path, headers=ADMIN_HEADERS)).status_code == 200
    for outsider in (MEMBER, STRANGER):
        response = await client.get(path, headers=bearer(outsider))
        assert response.status_code == 404
    assert (await client.get(path)).status_code == 401

    def ids(response: httpx.Response) -> list[str]:
        return [d["device_id"] for d in response.json()["data"]]

    listed = await client.get("/api/iot/devices/?plant_id=1000", headers=bearer(OWNER))
    assert device["device_id"] in ids(listed)
    assert ids(await client.get("/api/iot/devices/", headers=bearer(STRANGER))) == []
    assert ids(await client.get("/api/iot/devices/", headers=bearer(MEMBER))) == []
    patched = await client.patch(path, json={"interval_s": 300}, headers=bearer(CER_ADMIN))
    assert patched.status_code == 200 and patched.json()["data"]["interval_s"] == 300
    moved = await client.patch(path, json={"plant_id": 2000}, headers=bearer(CER_ADMIN))
    assert moved.status_code == 422 and moved.json()["errors"][0]["field"] == "plant_id"
    by_owner = await client.patch(path, json={"interval_s": 60}, headers=bearer(OWNER))
    assert by_owner.status_code == 403
    bad_status = await client.get("/api/iot/devices/?status=ASLEEP", headers=bearer(OWNER))
    assert bad_status.status_code == 422 and bad_status.json()["errors"][0]["field"] == "status"


async def test_silent_device_goes_offline_with_an_event(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    provisioned: list[str],
) -> None:
    data = await _register(client, provisioned, interval_s=60)
    device_id = str(data["device"]["device_id"])  # type: ignore[index]
    now = datetime.now(UTC)
    async with sessionmaker() as session:
        device = await session.get(Device, device_id)
        assert device is not None
        device.status, device.last_seen = "ONLINE", now - timedelta(seconds=194)
        await session.commit()
    async with sessionmaker() as session:
        marked = await service.mark_silent_devices_offline(session, after_intervals=3, now=now)
        await session.commit()
    # 3 min 14 s: within 3 intervals and the quarter interval by which the
    # bridge lets a stored last_seen lag (repository.LAST_SEEN_SLACK).
    assert device_id not in [d.id for d in marked]
    async with sessionmaker() as session:
        marked = await service.mark_silent_devices_offline(
            session, after_intervals=3, now=now + timedelta(seconds=2)
        )
        await session.commit()
    assert device_id in [d.id for d in marked]
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(outbox.c.envelope).where(
                    outbox.c.key == device_id, outbox.c.type == "device.status_changed"
                )
            )
        ).all()
    assert len(rows) == 1
    event = rows[0].envelope["data"]
    assert (event["status"], event["previous"], event["plant_id"]) == ("OFFLINE", "ONLINE", 1000)
    shown = await client.get(f"/api/iot/devices/{device_id}/", headers=bearer(OWNER))
    assert shown.json()["data"]["status"] == "OFFLINE"
    # Already OFFLINE: no second event.
    async with sessionmaker() as session:
        again = await service.mark_silent_devices_offline(
            session, after_intervals=3, now=now + timedelta(hours=1)
        )
    assert device_id not in [d.id for d in again]


async def test_the_detector_counts_devices_by_community_and_status(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    provisioned: list[str],
) -> None:
    """The gauge the offline-share alert divides: live devices per community and status."""
    from iot_service.detector import OfflineDetector
    from prometheus_client import REGISTRY

    detector = OfflineDetector(sessionmaker, after_intervals=3, every_s=60)

    async def counted() -> dict[str, float]:
        await detector.count_devices()
        return {
            status: REGISTRY.get_sample_value(
                "iot_devices", {"community_id": "100", "status": status}
            )
            or 0.0
            for status in ("ONLINE", "OFFLINE")
        }

    before = await counted()
    online = str((await _register(client, provisioned))["device"]["device_id"])  # type: ignore[index]
    await _register(client, provisioned)
    revoked = str((await _register(client, provisioned))["device"]["device_id"])  # type: ignore[index]
    async with sessionmaker() as session:
        row = await session.get(Device, online)
        gone = await session.get(Device, revoked)
        assert row is not None and gone is not None
        row.status, row.last_seen = "ONLINE", datetime.now(UTC)
        gone.revoked_at = datetime.now(UTC)
        await session.commit()
    after = await counted()
    # A revoked device is no longer the community's: not counted.
    assert after == {"ONLINE": before["ONLINE"] + 1, "OFFLINE": before["OFFLINE"] + 1}
