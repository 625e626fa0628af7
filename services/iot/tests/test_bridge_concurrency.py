"""A device that changes while the bridge works on it (another replica, the
OFFLINE detector): the bridge reads devices without locking them, finds the
change when it writes, and does the batch again with them locked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from cerc_shared import db
from cerc_shared.kafka import new_producer
from iot_service import service
from iot_service.bridge import Bridge, Inbound, create_engine
from iot_service.models import Device, outbox
from iot_service.repository import DeviceRepository, SeenDevice
from iot_service.settings import IotSettings
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .live import Devices, KafkaTail, LivePlant, readings_of

T0 = datetime(2025, 9, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
async def replicas(settings: IotSettings) -> AsyncIterator[tuple[Bridge, Bridge]]:
    """Two bridges, as two replicas would be, each with its own engine."""
    engines = [create_engine(settings) for _ in range(2)]
    producer = new_producer(settings.kafka_bootstrap, "test-bridge-concurrency")
    await producer.start()
    try:
        yield (
            Bridge(settings, db.create_sessionmaker(engines[0]), producer),
            Bridge(settings, db.create_sessionmaker(engines[1]), producer),
        )
    finally:
        await producer.stop()
        for engine in engines:
            await engine.dispose()


def reading(topic: str, minute: int, kwh: float) -> Inbound:
    body = {
        "timestamp": (T0 + timedelta(minutes=minute)).isoformat(),
        "measurements": {"energy_consumed": kwh},
    }
    return Inbound(topic, json.dumps(body).encode(), datetime.now(UTC))


def meanwhile(monkeypatch: pytest.MonkeyPatch, change: Callable[[], Awaitable[None]]) -> list[bool]:
    """Run ``change`` (committed elsewhere) once, just after the bridge's first
    unlocked read of its devices; returns the ``lock`` flag of every read."""
    reads: list[bool] = []
    original = DeviceRepository.for_bridge

    async def for_bridge(
        self: DeviceRepository, device_ids: Any, *, lock: bool
    ) -> dict[str, SeenDevice]:
        found = await original(self, device_ids, lock=lock)
        reads.append(lock)
        if reads == [False]:
            await change()
        return found

    monkeypatch.setattr(DeviceRepository, "for_bridge", for_bridge)
    return reads


async def test_a_register_another_replica_moved_meanwhile_is_not_counted_twice(
    replicas: tuple[Bridge, Bridge],
    devices: Devices,
    live_plant: LivePlant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = replicas
    creds = await devices.add(live_plant.plant_id)
    topic, dev = creds.topics.measurements, creds.device_id
    async with KafkaTail("measurement.v1") as tail:
        await first.process([reading(topic, 0, 100.0)])

        async def other_replica() -> None:
            # The broker gave the device's 15-minute reading to the other replica.
            await second.process([reading(topic, 15, 101.0)])

        reads = meanwhile(monkeypatch, other_replica)
        result = await first.process([reading(topic, 30, 102.5)])
        records = await tail.until(lambda r: len(readings_of(r, {dev})) >= 3)
    got = {r["timestamp"]: r["energy_consumed_kwh"] for _, _, r in readings_of(records, {dev})}
    # From the reading before it, whichever replica had it: 2.5 kWh in all.
    assert got == {
        "2025-09-04T10:00:00Z": None,
        "2025-09-04T10:15:00Z": 1.0,
        "2025-09-04T10:30:00Z": 1.5,
    }
    assert result.readings == 1
    # The first read unlocked, the other replica too (and wrote); the first
    # found the device changed when it wrote, and did the batch again locked.
    assert reads == [False, False, True]
    assert first.conflicts == 1 and second.conflicts == 0


async def test_a_device_the_detector_marks_offline_meanwhile_comes_back_online_with_its_event(
    replicas: tuple[Bridge, Bridge],
    devices: Devices,
    live_plant: LivePlant,
    live_maker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bridge, _ = replicas
    creds = await devices.add(live_plant.plant_id, interval_s=60)
    topic, dev = creds.topics.measurements, creds.device_id
    await bridge.process([reading(topic, 0, 100.0)])

    async def detector() -> None:
        async with live_maker() as session, session.begin():
            device = await session.get(Device, dev)
            assert device is not None and device.last_seen is not None
            marked = await service.mark_silent_devices_offline(
                session,
                after_intervals=3,
                now=device.last_seen + timedelta(hours=1),
                limit=100_000,
            )
        assert dev in [d.id for d in marked]

    meanwhile(monkeypatch, detector)
    await bridge.process([reading(topic, 1, 100.5)])
    async with live_maker() as session:
        device = await session.get(Device, dev)
        events = list(
            await session.scalars(
                select(outbox.c.envelope)
                .where(outbox.c.key == dev, outbox.c.type == "device.status_changed")
                .order_by(outbox.c.id)
            )
        )
    assert device is not None and device.status == "ONLINE"
    assert [(e["data"]["previous"], e["data"]["status"]) for e in events] == [
        ("OFFLINE", "ONLINE"),
        ("ONLINE", "OFFLINE"),
        ("OFFLINE", "ONLINE"),
    ]
    assert bridge.conflicts == 1


async def test_a_deadlock_with_another_transaction_redoes_the_batch_locked(
    replicas: tuple[Bridge, Bridge],
    settings: IotSettings,
    devices: Devices,
    live_plant: LivePlant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The unlocked write takes its rows one by one; another transaction that
    holds one of them and then wants another the write took (a locked batch
    of another replica, in its order) deadlocks with it. PostgreSQL ends the
    one that waited longest, here the bridge's write: it does the batch again
    locked, once the other transaction is done."""
    bridge, _ = replicas
    made = [await devices.add(live_plant.plant_id) for _ in range(2)]
    await bridge.process([reading(c.topics.measurements, 0, 100.0) for c in made])
    plain = settings.database_dsn
    other = await asyncpg.connect(plain, server_settings={"search_path": "iot"})
    try:
        rows = dict(
            await other.fetch(
                "SELECT id, ctid FROM devices WHERE id = ANY($1::varchar[])",
                [c.device_id for c in made],
            )
        )
        # The write takes the first of the batch first (in the table's order too).
        first, second = sorted(made, key=lambda c: rows[c.device_id])
        holding = other.transaction()
        late: list[asyncio.Task[None]] = []

        async def take_the_first_after_the_write_has_it() -> None:
            await asyncio.sleep(0.3)
            await other.execute("SELECT 1 FROM devices WHERE id = $1 FOR UPDATE", first.device_id)
            await holding.commit()

        async def hold_the_second() -> None:
            await holding.start()
            await other.execute("SELECT 1 FROM devices WHERE id = $1 FOR UPDATE", second.device_id)
            late.append(asyncio.create_task(take_the_first_after_the_write_has_it()))

        meanwhile(monkeypatch, hold_the_second)
        async with KafkaTail("measurement.v1") as tail:
            result = await bridge.process(
                [reading(first.topics.measurements, 15, 101.0),
                 reading(second.topics.measurements, 15, 102.0)]
            )  # fmt: skip
            ids = {first.device_id, second.device_id}
            records = await tail.until(lambda r: len(readings_of(r, ids)) >= 2)
        await late[0]
    finally:
        await other.close()
    got = {r["device_id"]: r["energy_consumed_kwh"] for _, _, r in readings_of(records, ids)}
    assert got == {first.device_id: 1.0, second.device_id: 2.0}
    assert result.readings == 2
    assert bridge.conflicts == 1
