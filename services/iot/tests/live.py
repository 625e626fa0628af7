"""Fixtures for tests that run the bridge against real, committed data.

The bridge opens its own database sessions, so these tests commit (in the
test database, recreated per run) and use ids of their own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from cerc_shared.auth import Principal
from cerc_shared.testing import ports
from fastapi import FastAPI
from iot_service import service
from iot_service.bridge import BridgeRunner
from iot_service.mqtt.topics import device_username
from iot_service.mqtt.wire import MqttSubscriber
from iot_service.schemas import DeviceCreate, MqttTopics
from iot_service.service import IotContext, apply_cer_event
from iot_service.settings import IotSettings
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from .conftest import envelope, membership_event, plant_event


class LiveDevice(NamedTuple):
    """A provisioned device: its id, and the credentials it was given."""

    device_id: str
    username: str
    password: str
    topics: MqttTopics


PLATFORM_ADMIN = Principal(user_id=1, username="root", user_type="ADMIN", token_id="t")


@pytest.fixture
async def live_maker(settings: IotSettings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(
        settings.database_url, connect_args={"server_settings": {"search_path": "iot"}}
    )
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@dataclass(frozen=True)
class LivePlant:
    plant_id: int
    community_id: int
    admin_user_id: int
    owner_user_id: int


@pytest.fixture
async def live_plant(live_maker: async_sessionmaker[AsyncSession]) -> LivePlant:
    rnd = random.SystemRandom()
    plant = LivePlant(
        plant_id=rnd.randint(10**6, 10**12),
        community_id=rnd.randint(10**6, 10**12),
        admin_user_id=rnd.randint(10**6, 10**12),
        owner_user_id=rnd.randint(10**6, 10**12),
    )
    async with live_maker() as session, session.begin():
        await apply_cer_event(
            session, envelope(plant_event(plant.plant_id, plant.community_id, plant.owner_user_id))
        )
        await apply_cer_event(
            session,
            envelope(
                membership_event(
                    rnd.randint(10**6, 10**12), plant.community_id, plant.admin_user_id, "ADMIN"
                )
            ),
        )
    return plant


class Devices:
    """Provisions devices through the service layer and removes them from Mosquitto after."""

    def __init__(self, app: FastAPI, maker: async_sessionmaker[AsyncSession]) -> None:
        self.ctx: IotContext = app.state.iot_context
        self.maker = maker
        self.created: list[str] = []

    async def add(self, plant_id: int, interval_s: int = 60) -> LiveDevice:
        device_id = f"dev-{uuid.uuid4().hex[:10]}"
        async with self.maker() as session, session.begin():
            provisioned = await service.register_device(
                session,
                self.ctx,
                PLATFORM_ADMIN,
                DeviceCreate(
                    device_id=device_id, plant_id=plant_id, model="sim", interval_s=interval_s
                ),
            )
        self.created.append(device_id)
        creds = provisioned.credentials
        return LiveDevice(device_id, creds.username, creds.password, creds.topics)

    async def cleanup(self) -> None:
        for device_id in self.created:
            await self.ctx.dynsec.remove_device(
                username=device_username(device_id), device_id=device_id
            )


@pytest.fixture
async def devices(
    app: FastAPI, live_maker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Devices]:
    registry = Devices(app, live_maker)
    yield registry
    await registry.cleanup()


def bridge_settings(settings: IotSettings, name: str | None = None) -> IotSettings:
    tag = name or uuid.uuid4().hex[:8]
    return settings.model_copy(
        update={
            "bridge_client_id": f"test-bridge-{tag}",
            "bridge_share_group": f"test-{tag}",
        }
    )


@pytest.fixture
async def bridge(settings: IotSettings) -> AsyncIterator[BridgeRunner]:
    runner = BridgeRunner(bridge_settings(settings))
    task = asyncio.create_task(runner.run())
    async with asyncio.timeout(15):
        while not runner.connected:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
    yield runner
    runner.stop()
    try:
        await asyncio.wait_for(task, 15)
    finally:
        # Even if the bridge failed: a session left behind queues every
        # device message published after it, for good (see discard_session).
        await discard_session(runner.settings)


async def discard_session(settings: IotSettings) -> None:
    """End a test bridge's persistent session: left in Mosquitto it would queue
    every device message published after it (up to 100,000) for good."""
    subscriber = await MqttSubscriber.connect(
        settings.mqtt_host,
        settings.mqtt_port,
        client_id=settings.bridge_client_id,
        username=settings.mqtt_bridge_username,
        password=settings.mqtt_bridge_password,
        clean_session=True,
    )
    await subscriber.close()


class KafkaTail:
    """Reads a topic from where it ended when the tail was opened."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=f"127.0.0.1:{ports()['KAFKA_PORT']}", enable_auto_commit=False
        )

    async def __aenter__(self) -> KafkaTail:
        bootstrap = f"127.0.0.1:{ports()['KAFKA_PORT']}"
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(self.topic, num_partitions=3, replication_factor=1)]
                )
            described = await admin.describe_topics([self.topic])
        finally:
            await admin.close()
        numbers = {p["partition"] for p in described[0]["partitions"]}
        await self._consumer.start()
        self._parts = [TopicPartition(self.topic, p) for p in sorted(numbers)]
        self._consumer.assign(self._parts)
        await self._consumer.seek_to_end(*self._parts)
        for part in self._parts:
            await self._consumer.position(part)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()

    async def records(self, seconds: float) -> list[Any]:
        out: list[Any] = []
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            batch = await self._consumer.getmany(timeout_ms=int(min(left, 0.5) * 1000))
            for records in batch.values():
                out.extend(records)
        return out

    async def until(self, done: Any, seconds: float = 20) -> list[Any]:
        """Records until ``done(records)`` holds (or the time is up)."""
        out: list[Any] = []
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline and not done(out):
            batch = await self._consumer.getmany(timeout_ms=300)
            for records in batch.values():
                out.extend(records)
        return out


def readings_of(
    records: Iterable[Any], device_ids: set[str]
) -> list[tuple[int, str, dict[str, Any]]]:
    """(plant_id, source, reading) for the readings of ``device_ids``."""
    out = []
    for record in records:
        data = json.loads(record.value)["data"]
        for reading in data["readings"]:
            if reading["device_id"] in device_ids:
                out.append((data["plant_id"], data["source"], reading))
    return out
