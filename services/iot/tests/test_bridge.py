"""The bridge against real Mosquitto, Kafka and Postgres."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from cerc_shared.events import EventEnvelope
from cerc_shared.testing import ports
from fastapi import FastAPI
from iot_service import service
from iot_service.bridge import BridgeRunner
from iot_service.models import CommandAck, Device, outbox, registry
from iot_service.settings import IotSettings
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import bearer, envelope, plant_event
from .live import Devices, KafkaTail, LivePlant, bridge_settings, discard_session, readings_of
from .mqtt_helpers import collect, connect

T0 = datetime(2025, 9, 4, 10, 0, tzinfo=UTC)


def spec(device_id: str, plant_id: int, minute: int, produced: float, consumed: float) -> bytes:
    return json.dumps(
        {
            "device_id": device_id,
            "plant_id": plant_id,
            "timestamp": (T0 + timedelta(minutes=minute)).isoformat(),
            "measurements": {
                "energy_produced": produced,
                "energy_consumed": consumed,
                "power_produced": 2.0,
                "voltage": 230.0,
            },
            "status": {"battery_level": 80, "signal_strength": -60},
        }
    ).encode()


async def test_a_device_reading_reaches_kafka_as_interval_energy(
    bridge: BridgeRunner,
    devices: Devices,
    live_plant: LivePlant,
    live_maker: async_sessionmaker[AsyncSession],
) -> None:
    creds = await devices.add(live_plant.plant_id)
    dev, plant = creds.device_id, live_plant.plant_id
    async with KafkaTail("measurement.v1") as tail:
        async with connect(creds.username, creds.password) as client:
            for minute, produced, consumed in (
                (0, 100.0, 50.0),
                (15, 100.75, 50.2),
                (30, 101.5, 50.2),
            ):
                await client.publish(
                    creds.topics.measurements, spec(dev, plant, minute, produced, consumed), qos=1
                )
        records = await tail.until(lambda r: len(readings_of(r, {dev})) >= 3)
    got = readings_of(records, {dev})
    assert [(p, s) for p, s, _ in got] == [(plant, "iot")] * 3
    assert [r["energy_produced_kwh"] for _, _, r in got] == [None, 0.75, 0.75]
    assert [r["energy_consumed_kwh"] for _, _, r in got] == [None, 0.2, 0.0]
    assert [r["interval_s"] for _, _, r in got] == [None, 900, 900]
    assert got[1][2]["power_produced_kw"] == 2.0
    assert all(rec.key == str(plant).encode() for rec in records if dev in rec.value.decode())
    # The registry is committed just after Kafka has the readings: wait for it.
    for _ in range(100):
        async with live_maker() as session:
            device = await session.get(Device, dev)
            events = list(
                await session.scalars(
                    select(outbox.c.envelope).where(
                        outbox.c.key == dev, outbox.c.type == "device.status_changed"
                    )
                )
            )
        if events:
            break
        await asyncio.sleep(0.1)
    assert device is not None and device.status == "ONLINE"
    assert (device.battery_level, device.signal_strength) == (80, -60)
    assert [(e["data"]["previous"], e["data"]["status"]) for e in events] == [("OFFLINE", "ONLINE")]


async def test_malformed_and_misplaced_messages_go_to_the_dead_letter_topic(
    bridge: BridgeRunner, devices: Devices, live_plant: LivePlant
) -> None:
    creds = await devices.add(live_plant.plant_id)
    dev, plant = creds.device_id, live_plant.plant_id
    async with KafkaTail("iot.mqtt.dlq") as dlq, KafkaTail("measurement.v1") as accepted:
        async with connect(creds.username, creds.password) as client:
            await client.publish(creds.topics.measurements, b'{"timestamp": "yesterday"', qos=1)
            await client.publish(creds.topics.measurements, spec(dev, plant, 0, 1.0, 1.0), qos=1)
        # The bridge account may publish anywhere: the bridge still checks the plant.
        async with connect("cerc_bridge", "cerc_bridge_dev") as other:
            await other.publish(
                f"energy/plant/{plant + 1}/device/{dev}/measurements",
                spec(dev, plant + 1, 15, 2.0, 2.0),
                qos=1,
            )
        dead = await dlq.until(lambda r: len([x for x in r if dev.encode() in (x.key or b"")]) >= 2)
        good = await accepted.until(lambda r: len(readings_of(r, {dev})) >= 1)
    mine = [x for x in dead if dev.encode() in (x.key or b"")]
    reasons = sorted(dict(x.headers)["reason"].decode() for x in mine)
    assert len(reasons) == 2
    assert reasons[0].startswith("device belongs to plant")
    assert reasons[1].startswith("not JSON")
    assert dict(mine[0].headers)["mqtt_topic"] in {x.key for x in mine}
    assert [r["timestamp"] for _, _, r in readings_of(good, {dev})] == ["2025-09-04T10:00:00Z"]


async def test_native_shelly_and_tasmota_payloads(
    bridge: BridgeRunner, devices: Devices, live_plant: LivePlant
) -> None:
    # The Shelly sits at the grid connection: its readings say so, for the
    # energy service to store export/import as fed-in/withdrawn energy.
    shelly = await devices.add(live_plant.plant_id, measuring_point="grid_connection")
    tasmota = await devices.add(live_plant.plant_id)
    ts = T0.timestamp()
    async with KafkaTail("measurement.v1") as tail:
        async with connect(shelly.username, shelly.password) as client:
            for i, (imported, exported) in enumerate(((1000.0, 0.0), (1250.0, 500.0))):
                rpc = {
                    "src": "shellypro3em",
                    "method": "NotifyStatus",
                    "params": {
                        "ts": ts + 60 * i,
                        "em:0": {"total_act_power": 300.0, "a_voltage": 230.0},
                        "emdata:0": {"total_act": imported, "total_act_ret": exported},
                    },
                }
                topic = f"{shelly.topics.measurements}/shelly/events/rpc"
                await client.publish(topic, json.dumps(rpc), qos=1)
        async with connect(tasmota.username, tasmota.password) as client:
            base = f"{tasmota.topics.measurements}/tasmota/tele"
            await client.publish(f"{base}/LWT", b"Online", qos=1)
            for minute, total in ((0, 10.5), (1, 10.6), (2, 0.05)):  # a reset at the third
                sensor = {
                    "Time": f"2025-09-04T12:0{minute}:00",
                    "ENERGY": {"Total": total, "Power": -200, "Voltage": 231},
                }
                await client.publish(f"{base}/SENSOR", json.dumps(sensor), qos=1)
        ids = {shelly.device_id, tasmota.device_id}
        records = await tail.until(lambda r: len(readings_of(r, ids)) >= 5)
    by_device: dict[str, list[dict[str, Any]]] = {}
    for _, _, reading in readings_of(records, ids):
        by_device.setdefault(reading["device_id"], []).append(reading)
    s = by_device[shelly.device_id]
    assert [(r["energy_consumed_kwh"], r["energy_produced_kwh"]) for r in s] == [
        (None, None),
        (0.25, 0.5),
    ]
    assert s[1]["interval_s"] == 60 and s[1]["power_consumed_kw"] == 0.3
    assert {r["measuring_point"] for r in s} == {"grid_connection"}
    t = by_device[tasmota.device_id]
    assert [r["energy_consumed_kwh"] for r in t] == [None, 0.1, 0.05]
    assert {r["measuring_point"] for r in t} == {None}
    assert t[0]["timestamp"] == "2025-09-04T10:00:00Z"  # 12:00 in Rome
    assert t[1]["power_produced_kw"] == 0.2


async def test_a_command_reaches_the_device_and_its_ack_is_recorded(
    app: FastAPI,
    bridge: BridgeRunner,
    devices: Devices,
    live_plant: LivePlant,
    live_maker: async_sessionmaker[AsyncSession],
) -> None:
    creds = await devices.add(live_plant.plant_id)
    transport = httpx.ASGITransport(app=app)
    headers = bearer(live_plant.admin_user_id)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://iot") as api,
        connect(creds.username, creds.password) as device,
    ):
        await device.subscribe(creds.topics.commands, qos=1)
        sent = await api.post(
            f"/api/iot/devices/{creds.device_id}/commands/",
            json={"command": "set_interval", "params": {"interval_s": 30}},
            headers=headers,
        )
        assert sent.status_code == 202, sent.text
        command = sent.json()["data"]
        assert command["status"] == "SENT"
        received = await collect(device, 2.0)
        assert len(received) == 1 and received[0][0] == creds.topics.commands
        body = json.loads(received[0][1])
        assert body["command_id"] == command["command_id"] and body["params"] == {"interval_s": 30}
        await device.publish(
            creds.topics.acks,
            json.dumps({"command_id": body["command_id"], "result": "OK", "detail": "done"}),
            qos=1,
        )
        path = f"/api/iot/devices/{creds.device_id}/commands/{command['command_id']}/"
        shown = await _until_not_sent(api, path, headers)
        assert shown["status"] == "ACKED" and shown["result_detail"] == "done"
        # The plant's owner reads the command; a stranger is told nothing exists.
        assert (await api.get(path, headers=bearer(live_plant.owner_user_id))).status_code == 200
        assert (await api.get(path, headers=bearer(424242))).status_code == 404
    async with live_maker() as session:
        ack = await session.get(CommandAck, uuid.UUID(command["command_id"]))
    assert ack is not None and ack.device_id == creds.device_id


async def _until_not_sent(
    api: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> dict[str, Any]:
    for _ in range(100):
        shown: dict[str, Any] = (await api.get(path, headers=headers)).json()["data"]
        if shown["status"] != "SENT":
            return shown
        await asyncio.sleep(0.1)
    raise AssertionError("the acknowledgement was never recorded")


async def test_device_status_messages_update_the_registry(
    bridge: BridgeRunner,
    devices: Devices,
    live_plant: LivePlant,
    live_maker: async_sessionmaker[AsyncSession],
) -> None:
    creds = await devices.add(live_plant.plant_id)
    async with connect(creds.username, creds.password) as client:
        status = {"status": {"battery_level": 12, "signal_strength": -90, "state": "ERROR",
                             "error": "CT clamp disconnected"}}  # fmt: skip
        await client.publish(creds.topics.status, json.dumps(status), qos=1)
    async with asyncio.timeout(10):
        while True:
            async with live_maker() as session:
                device = await session.get(Device, creds.device_id)
            assert device is not None
            if device.status == "ERROR":
                break
            await asyncio.sleep(0.1)
    assert (device.battery_level, device.signal_strength) == (12, -90)
    assert device.status_detail == "CT clamp disconnected" and device.last_seen is not None


async def test_the_plant_read_model_follows_plant_events_on_kafka(
    app: FastAPI, live_maker: async_sessionmaker[AsyncSession]
) -> None:
    plant_id = uuid.uuid4().int % 10**12
    producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{ports()['KAFKA_PORT']}")
    await producer.start()
    try:
        for event in (plant_event(plant_id, 77, 88), plant_event(plant_id, 77, 99)):
            env: EventEnvelope = envelope(event)
            await producer.send_and_wait(
                env.topic, env.model_dump_json().encode(), key=env.key.encode()
            )
    finally:
        await producer.stop()
    async with asyncio.timeout(30):
        while True:
            async with live_maker() as session:
                plant = await registry.reader(session).plant(plant_id)
            if plant is not None and plant.owner_user_id == 99:
                break
            await asyncio.sleep(0.2)
    assert plant.community_id == 77


async def test_batches_in_flight_together_keep_each_devices_counter_in_order(
    settings: IotSettings, devices: Devices, live_plant: LivePlant
) -> None:
    """Small batches, several in flight: a device's readings land in
    different batches at once, and each must start from the one before."""
    runner = BridgeRunner(
        bridge_settings(settings).model_copy(
            update={"bridge_batch_max": 3, "bridge_batch_linger_s": 0.0, "bridge_in_flight": 4}
        )
    )
    task = asyncio.create_task(runner.run())
    try:
        async with asyncio.timeout(15):
            while not runner.connected:
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
        creds = [await devices.add(live_plant.plant_id) for _ in range(2)]
        ids = {c.device_id for c in creds}
        async with KafkaTail("measurement.v1") as tail:
            for c in creds:
                async with connect(c.username, c.password) as client:
                    for minute in range(40):
                        kwh = 100.0 + 0.5 * minute + (0.25 if minute % 7 == 0 else 0.0)
                        body = spec(c.device_id, live_plant.plant_id, minute, kwh, kwh / 2)
                        await client.publish(c.topics.measurements, body, qos=1)
            records = await tail.until(lambda r: len(readings_of(r, ids)) >= 80, seconds=30)
    finally:
        runner.stop()
        await asyncio.wait_for(task, 15)
        await discard_session(runner.settings)
    for c in creds:
        got = [r for _, _, r in readings_of(records, {c.device_id})]
        assert [r["timestamp"] for r in got] == [
            (T0 + timedelta(minutes=m)).isoformat().replace("+00:00", "Z") for m in range(40)
        ]
        # One baseline, then every step from the reading before it: the total
        # is the register's growth, nothing counted twice or lost.
        assert [r["energy_produced_kwh"] is None for r in got] == [True] + [False] * 39
        last = 100.0 + 0.5 * 39
        assert sum(r["energy_produced_kwh"] or 0 for r in got) == pytest.approx(last - 100.25)


async def test_last_seen_is_written_now_and_then_and_silence_still_means_offline(
    bridge: BridgeRunner,
    devices: Devices,
    live_plant: LivePlant,
    live_maker: async_sessionmaker[AsyncSession],
) -> None:
    """A device reporting more often than its interval has its last_seen
    rewritten once the stored one is LAST_SEEN_SLACK of an interval old, or at
    once when anything else about it changes; the OFFLINE detector allows for
    the lag, and a device that comes back is ONLINE again."""
    creds = await devices.add(live_plant.plant_id, interval_s=3600)
    dev, plant = creds.device_id, live_plant.plant_id
    ids = {dev}

    async def publish(minute: int, kwh: float, battery: int = 80) -> None:
        body = json.loads(spec(dev, plant, minute, kwh, kwh / 2))
        body["status"]["battery_level"] = battery
        async with connect(creds.username, creds.password) as client:
            await client.publish(creds.topics.measurements, json.dumps(body).encode(), qos=1)

    async def device_row() -> Device:
        async with live_maker() as session:
            device = await session.get(Device, dev)
        assert device is not None
        return device

    async with KafkaTail("measurement.v1") as tail:
        await publish(0, 100.0)
        await tail.until(lambda r: len(readings_of(r, ids)) >= 1)
        first = await _settled(device_row, lambda d: d.status == "ONLINE")
        assert first.last_seen is not None
        # A second reading seconds later (15 min is a quarter of the interval
        # only on the device's clock): the stored last_seen stays as it was.
        await publish(1, 100.5)
        await tail.until(lambda r: len(readings_of(r, ids)) >= 2)
    await asyncio.sleep(0.3)  # the batch commits just after Kafka has it
    assert (await device_row()).last_seen == first.last_seen
    # Something else changed (battery): the row is written, last_seen with it.
    async with KafkaTail("measurement.v1") as tail:
        await publish(2, 101.0, battery=79)
        await tail.until(lambda r: len(readings_of(r, ids)) >= 1)
    third = await _settled(device_row, lambda d: d.battery_level == 79)
    assert third.last_seen is not None and first.last_seen < third.last_seen

    # Silent: three intervals and the slack after the stored last_seen, OFFLINE.
    now = third.last_seen + timedelta(hours=3, minutes=15)
    async with live_maker() as session, session.begin():
        early = await service.mark_silent_devices_offline(
            session, after_intervals=3, now=now - timedelta(seconds=1), limit=100_000
        )
    assert dev not in [d.id for d in early]
    async with live_maker() as session, session.begin():
        marked = await service.mark_silent_devices_offline(
            session, after_intervals=3, now=now + timedelta(seconds=1), limit=100_000
        )
    assert dev in [d.id for d in marked]
    assert (await device_row()).status == "OFFLINE"
    # It comes back: ONLINE again at once, with its event.
    async with KafkaTail("measurement.v1") as tail:
        await publish(3, 101.5)
        await tail.until(lambda r: len(readings_of(r, ids)) >= 1)
    back = await _settled(device_row, lambda d: d.status == "ONLINE")
    assert back.last_seen is not None and back.last_seen > third.last_seen
    async with live_maker() as session:
        events = list(
            await session.scalars(
                select(outbox.c.envelope)
                .where(outbox.c.key == dev, outbox.c.type == "device.status_changed")
                .order_by(outbox.c.id)
            )
        )
    assert [(e["data"]["previous"], e["data"]["status"]) for e in events] == [
        ("OFFLINE", "ONLINE"),
        ("ONLINE", "OFFLINE"),
        ("OFFLINE", "ONLINE"),
    ]


async def _settled(row: Any, done: Any) -> Device:
    """The device row once ``done(row)`` holds (the bridge commits just after Kafka)."""
    async with asyncio.timeout(10):
        while True:
            device: Device = await row()
            if done(device):
                return device
            await asyncio.sleep(0.05)
