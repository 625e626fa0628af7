"""Broker accounts the iot service must not take over (issue 12, item 8), through
the real Mosquitto: device user names carry the `dev-` prefix, provisioning
never replaces or deletes a client it did not create, and the API's commands go
out on an account that may publish to devices' commands topics only."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import aiomqtt
import httpx
import pytest
from fastapi import FastAPI
from iot_service.models import Device
from iot_service.mqtt.dynsec import DynSec, owner_mark, role_name
from iot_service.mqtt.publisher import CommandPublisher
from iot_service.mqtt.topics import device_acls, device_username
from iot_service.settings import IotSettings
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import CER_ADMIN, bearer, unique_id
from .mqtt_helpers import collect, connect

pytestmark = pytest.mark.usefixtures("community")


@pytest.fixture
def dynsec(app: FastAPI) -> DynSec:
    ds: DynSec = app.state.iot_context.dynsec
    return ds


@pytest.fixture
async def broker_clients(dynsec: DynSec) -> AsyncIterator[list[str]]:
    """Broker clients (and device roles) a test makes by hand, deleted afterwards."""
    names: list[str] = []
    yield names
    await dynsec.run(
        [{"command": "deleteClient", "username": n} for n in names]
        + [{"command": "deleteRole", "rolename": n} for n in names]
    )


async def _foreign_client(dynsec: DynSec, username: str, textname: str = "ops account") -> str:
    password = secrets.token_urlsafe(16)
    (answer,) = await dynsec.run(
        [
            {
                "command": "createClient",
                "username": username,
                "password": password,
                "textname": textname,
            }
        ]
    )
    assert not answer.get("error"), answer
    return password


async def _can_connect(username: str, password: str) -> bool:
    try:
        async with connect(username, password):
            return True
    except aiomqtt.MqttCodeError:
        return False


async def _devices(maker: async_sessionmaker[AsyncSession]) -> int:
    async with maker() as session:
        return int(await session.scalar(select(func.count()).select_from(Device)) or 0)


async def test_a_device_id_naming_an_existing_account_leaves_that_account_alone(
    client: httpx.AsyncClient, dynsec: DynSec, broker_clients: list[str]
) -> None:
    # An operator's account that does not begin with `cerc`: before the prefix,
    # registering a device of that id deleted it and handed its name out.
    name = unique_id("ops")
    broker_clients.extend([name, device_username(name), role_name(name)])
    password = await _foreign_client(dynsec, name)
    response = await client.post(
        "/api/iot/devices/",
        json={"device_id": name, "plant_id": 1000, "model": "m"},
        headers=bearer(CER_ADMIN),
    )
    assert response.status_code == 201, response.text
    creds = response.json()["data"]["credentials"]
    assert creds["username"] == f"dev-{name}"
    assert await _can_connect(name, password)
    assert await _can_connect(creds["username"], creds["password"])


async def test_provisioning_refuses_a_dev_client_it_did_not_create(
    client: httpx.AsyncClient,
    dynsec: DynSec,
    sessionmaker: async_sessionmaker[AsyncSession],
    broker_clients: list[str],
) -> None:
    device_id = unique_id("squat")
    username = device_username(device_id)
    broker_clients.extend([username, role_name(device_id)])
    password = await _foreign_client(dynsec, username)
    before = await _devices(sessionmaker)
    response = await client.post(
        "/api/iot/devices/",
        json={"device_id": device_id, "plant_id": 1000, "model": "m"},
        headers=bearer(CER_ADMIN),
    )
    assert response.status_code == 409, response.text
    (error,) = response.json()["errors"]
    assert error["code"] == "mqtt_username_taken" and error["field"] == "device_id"
    assert username in error["message"]
    # Refused, never deleted: the other account still logs in, nothing written.
    assert await _can_connect(username, password)
    assert await _devices(sessionmaker) == before
    assert await dynsec.client(username) is not None


async def test_revocation_never_deletes_a_client_it_did_not_create(
    client: httpx.AsyncClient, dynsec: DynSec, broker_clients: list[str]
) -> None:
    device_id = unique_id()
    username = device_username(device_id)
    broker_clients.extend([username, role_name(device_id)])
    made = await client.post(
        "/api/iot/devices/",
        json={"device_id": device_id, "plant_id": 1000, "model": "m"},
        headers=bearer(CER_ADMIN),
    )
    assert made.status_code == 201, made.text
    # Someone replaces the device's client by hand (same name, not ours).
    await dynsec.run([{"command": "deleteClient", "username": username}])
    password = await _foreign_client(dynsec, username)
    revoked = await client.delete(f"/api/iot/devices/{device_id}/", headers=bearer(CER_ADMIN))
    assert revoked.status_code == 409, revoked.text
    assert revoked.json()["errors"][0]["code"] == "mqtt_username_taken"
    assert await _can_connect(username, password)


async def test_rotation_moves_a_device_provisioned_before_the_prefix(
    client: httpx.AsyncClient,
    dynsec: DynSec,
    sessionmaker: async_sessionmaker[AsyncSession],
    broker_clients: list[str],
) -> None:
    # A device as the service provisioned it before: user name = device id,
    # text name "device X of plant P".
    device_id = unique_id("legacy")
    broker_clients.extend([device_id, device_username(device_id), role_name(device_id)])
    old_password = secrets.token_urlsafe(16)
    answers = await dynsec.run(
        [
            {
                "command": "createRole",
                "rolename": role_name(device_id),
                "acls": device_acls(1000, device_id),
            },
            {
                "command": "createClient",
                "username": device_id,
                "password": old_password,
                "textname": f"device {device_id} of plant 1000",
                "roles": [{"rolename": role_name(device_id)}],
            },
        ]
    )
    assert not any(a.get("error") for a in answers), answers
    async with sessionmaker() as session:
        session.add(
            Device(
                id=device_id,
                plant_id=1000,
                model="m",
                interval_s=60,
                mqtt_username=device_id,
                status="OFFLINE",
                created_by=CER_ADMIN,
            )
        )
        await session.commit()
    rotated = await client.post(
        f"/api/iot/devices/{device_id}/credentials/", headers=bearer(CER_ADMIN)
    )
    assert rotated.status_code == 200, rotated.text
    creds = rotated.json()["data"]["credentials"]
    assert creds["username"] == f"dev-{device_id}"
    assert rotated.json()["data"]["device"]["mqtt_username"] == f"dev-{device_id}"
    assert not await _can_connect(device_id, old_password)
    assert await dynsec.client(device_id) is None
    assert await _can_connect(creds["username"], creds["password"])
    made = await dynsec.client(creds["username"])
    assert made is not None and made["textname"] == owner_mark(device_id)


async def test_commands_go_out_on_an_account_that_may_publish_only_commands(
    settings: IotSettings,
) -> None:
    # The bridge's password is wrong here: the publisher must not need it.
    publish = CommandPublisher(settings.model_copy(update={"mqtt_bridge_password": "wrong"}))
    root = f"energy/plant/1000/device/{unique_id()}"
    async with connect("cerc_bridge", "cerc_bridge_dev") as bridge:
        await bridge.subscribe("energy/#", qos=1)
        await publish(f"{root}/commands", b"reboot")
        await publish(f"{root}/measurements", b"forged")
        await publish(f"{root}/status", b"forged")
        seen = await collect(bridge, 1.5)
    assert seen == [(f"{root}/commands", b"reboot")]
    # Nor may it read anything.
    async with connect(settings.mqtt_commands_username, settings.mqtt_commands_password) as api:
        granted = await api.subscribe("energy/#", qos=1)
        assert [r.value for r in granted] == [0x80]  # type: ignore[union-attr]
