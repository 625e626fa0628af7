"""Devices follow the plant's stays (issue 12, item 1).

A plant leaves community A: its devices are revoked at once (gone from
Mosquitto, status REVOKED, a ``device.revoked`` with reason ``plant_left``).
Its POD registered again in community B (same plant id): B's administrator
neither sees nor reaches A's meter, A's administrator still reads it but
can no longer rotate it or send it commands, and B's own device is B's."""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta

import aiomqtt
import cerc_shared.clock
import httpx
import pytest
from cerc_shared.clock import ITALY, italian_today
from cerc_shared.events.cer import MembershipStarted, PlantLeft, PlantRegistered
from cerc_shared.testing import freeze_utc
from fastapi import FastAPI
from iot_service.models import Device, outbox
from iot_service.mqtt.topics import device_username
from iot_service.service import cer_event_handler
from iot_service.stay_ends import StayEndRevoker
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import bearer, envelope, plant_event, unique_id
from .mqtt_helpers import connect

ADMIN_A, OWNER_A, ADMIN_B, OWNER_B = 7101, 7102, 7103, 7104
_ids = itertools.count(random.randrange(10**7, 9 * 10**7, 10**3))


@pytest.fixture
async def created(app: FastAPI) -> AsyncIterator[list[str]]:
    made: list[str] = []
    yield made
    for device_id in made:  # whatever a failing test left in the broker
        await app.state.iot_context.dynsec.remove_device(
            username=device_username(device_id), device_id=device_id
        )


async def test_a_plant_leaving_revokes_its_devices_and_the_next_tenant_never_reaches_them(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    created: list[str],
) -> None:
    plant, community_a, community_b = next(_ids), next(_ids), next(_ids)
    handle = cer_event_handler(app.state.iot_context.dynsec)
    today = italian_today()
    first = plant_event(plant, community_a, OWNER_A)

    async def deliver(*events: PlantRegistered | PlantLeft | MembershipStarted) -> None:
        async with sessionmaker() as session:
            for event in events:
                await handle(session, envelope(event))  # type: ignore[arg-type]
            await session.commit()

    def admin_of(community: int, user: int, since: date) -> MembershipStarted:
        return MembershipStarted(
            membership_id=next(_ids), community_id=community, user_id=user, role="ADMIN",
            member_type="PRIVATE", body_type="NONE", valid_from=since, valid_to=None,
        )  # fmt: skip

    await deliver(first, admin_of(community_a, ADMIN_A, date(2024, 1, 1)))
    device_id = unique_id()
    created.append(device_id)
    registered = await client.post(
        "/api/iot/devices/",
        json={"device_id": device_id, "plant_id": plant, "model": "Shelly Pro 3EM"},
        headers=bearer(ADMIN_A),
    )
    assert registered.status_code == 201, registered.text
    credentials = registered.json()["data"]["credentials"]
    async with connect(credentials["username"], credentials["password"]):
        pass

    # The plant leaves A today, and B registers the same POD today.
    await deliver(
        PlantLeft(**{**first.model_dump(exclude={"type"}), "valid_to": today}),
        admin_of(community_b, ADMIN_B, today - timedelta(days=1)),
        plant_event(plant, community_b, OWNER_B).model_copy(update={"valid_from": today}),
    )
    with pytest.raises(aiomqtt.MqttCodeError):
        async with connect(credentials["username"], credentials["password"]):
            pass
    async with sessionmaker() as session:
        device = await session.get(Device, device_id)
        assert device is not None and device.revoked_at is not None
        assert device.status == "REVOKED"
        payloads = list(
            await session.scalars(
                select(outbox.c.envelope).where(
                    outbox.c.key == device_id, outbox.c.type == "device.revoked"
                )
            )
        )
    assert [p["data"]["reason"] for p in payloads] == ["plant_left"]

    path = f"/api/iot/devices/{device_id}/"
    for method, url, body in (
        ("GET", path, None),
        ("PATCH", path, {"interval_s": 60}),
        ("DELETE", path, None),
        ("POST", f"{path}credentials/", None),
        ("POST", f"{path}commands/", {"command": "reboot"}),
        ("GET", f"{path}commands/", None),
    ):
        response = await client.request(method, url, json=body, headers=bearer(ADMIN_B))
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["errors"][0]["code"] == "not_found"
    listed = await client.get(
        "/api/iot/devices/", params={"include_revoked": "true"}, headers=bearer(ADMIN_B)
    )
    assert device_id not in [d["device_id"] for d in listed.json()["data"]]

    # A's administrator keeps reading A's meter, but its stay is over.
    assert (await client.get(path, headers=bearer(ADMIN_A))).status_code == 200
    for url in (f"{path}credentials/", f"{path}commands/"):
        response = await client.post(url, json={"command": "reboot"}, headers=bearer(ADMIN_A))
        assert response.status_code == 403, (url, response.text)

    # B's own meter is B's, and not A's.
    own = unique_id()
    created.append(own)
    mine = await client.post(
        "/api/iot/devices/",
        json={"device_id": own, "plant_id": plant, "model": "Shelly Pro 3EM"},
        headers=bearer(ADMIN_B),
    )
    assert mine.status_code == 201, mine.text
    assert (
        await client.get(f"/api/iot/devices/{own}/", headers=bearer(ADMIN_B))
    ).status_code == 200
    assert (
        await client.get(f"/api/iot/devices/{own}/", headers=bearer(ADMIN_A))
    ).status_code == 404
    listed = await client.get("/api/iot/devices/", headers=bearer(ADMIN_A))
    assert own not in [d["device_id"] for d in listed.json()["data"]]


async def test_a_leave_dated_in_the_future_revokes_the_devices_on_its_day(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    created: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The plant.left arrives days before it takes effect: nothing is revoked
    then; on its day the StayEndRevoker revokes A's meter (once, with its
    event) and leaves alone the meter B registered for its own stay."""
    plant, community_a, community_b = next(_ids), next(_ids), next(_ids)
    handle = cer_event_handler(app.state.iot_context.dynsec)
    today = italian_today()
    leave_on = today + timedelta(days=3)
    first = plant_event(plant, community_a, OWNER_A)

    async def deliver(*events: PlantRegistered | PlantLeft | MembershipStarted) -> None:
        async with sessionmaker() as session:
            for event in events:
                await handle(session, envelope(event))  # type: ignore[arg-type]
            await session.commit()

    def admin_of(community: int, user: int) -> MembershipStarted:
        return MembershipStarted(
            membership_id=next(_ids), community_id=community, user_id=user, role="ADMIN",
            member_type="PRIVATE", body_type="NONE", valid_from=date(2024, 1, 1), valid_to=None,
        )  # fmt: skip

    async def provision(device_id: str, admin: int) -> dict[str, str]:
        created.append(device_id)
        response = await client.post(
            "/api/iot/devices/",
            json={"device_id": device_id, "plant_id": plant, "model": "Shelly Pro 3EM"},
            headers=bearer(admin),
        )
        assert response.status_code == 201, response.text
        credentials: dict[str, str] = response.json()["data"]["credentials"]
        return credentials

    async def revoked_events(device_id: str) -> list[str]:
        async with sessionmaker() as session:
            rows = await session.scalars(
                select(outbox.c.envelope).where(
                    outbox.c.key == device_id, outbox.c.type == "device.revoked"
                )
            )
            return [row["data"]["reason"] for row in rows]

    await deliver(first, admin_of(community_a, ADMIN_A), admin_of(community_b, ADMIN_B))
    meter_a = unique_id()
    credentials = await provision(meter_a, ADMIN_A)

    # Announced today, effective in three days; B takes the POD from then.
    await deliver(
        PlantLeft(**{**first.model_dump(exclude={"type"}), "valid_to": leave_on}),
        plant_event(plant, community_b, OWNER_B).model_copy(update={"valid_from": leave_on}),
    )
    revoker = StayEndRevoker(sessionmaker, app.state.iot_context.dynsec, every_s=3600)
    # Other tests' devices may be revoked by the same checks: look at ours.
    await revoker.check()
    assert await revoked_events(meter_a) == []
    async with connect(credentials["username"], credentials["password"]):
        pass

    # The day before the leave: still nothing.
    freeze_utc(monkeypatch, datetime.combine(leave_on, time(0), ITALY) - timedelta(hours=1),
               cerc_shared.clock)  # fmt: skip
    await revoker.check()
    assert await revoked_events(meter_a) == []

    # The day of the leave: B registers its own meter; A's is revoked, B's kept.
    freeze_utc(monkeypatch, datetime.combine(leave_on, time(0), ITALY) + timedelta(minutes=1),
               cerc_shared.clock)  # fmt: skip
    meter_b = unique_id()
    await provision(meter_b, ADMIN_B)
    assert await revoker.check() >= 1
    await revoker.check()  # idempotent: nothing twice
    with pytest.raises(aiomqtt.MqttCodeError):
        async with connect(credentials["username"], credentials["password"]):
            pass
    async with sessionmaker() as session:
        device_a, device_b = await session.get(Device, meter_a), await session.get(Device, meter_b)
        assert device_a is not None and device_a.status == "REVOKED" and device_a.revoked_at
        assert device_b is not None and device_b.revoked_at is None
    assert await revoked_events(meter_a) == ["plant_left"]
    assert await revoked_events(meter_b) == []
