"""The energy service against real PostgreSQL, Kafka and InfluxDB.

Each session gets its own InfluxDB database (dropped and created again) and
its own consumer groups, started at the end of the topics so earlier runs'
events are not replayed into it. Nothing is skipped: a server that is down
fails the tests with the reason.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import OffsetAndMetadata
from cerc_shared import testing as kit
from cerc_shared.consumer import IdempotentConsumer
from cerc_shared.events import Event, EventEnvelope
from cerc_shared.events.cer import MembershipEnded, MembershipStarted, PlantRegistered
from cerc_shared.events.iot import MeasurementsAccepted, Reading
from cerc_shared.kafka import new_producer
from cerc_shared.testing import ports, prepare_database
from energy_service.events import handle_read_model_event, read_model_handler
from energy_service.ingest import DEVICE_TOPIC, MEASUREMENT_TOPIC
from energy_service.main import create_app
from energy_service.models import processed_events
from energy_service.scope_cache import ScopeCache
from energy_service.settings import EnergySettings
from energy_service.timeseries import InfluxTimeSeries
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

SERVICE_DIR = Path(__file__).resolve().parents[1]
# Tokens in these tests are signed by a key the test holds; the
# verification code is the one the service runs against the JWKS.
TOKENS = kit.TestTokens("energy-tests")
INFLUX_DATABASE = "cerc_test_energy"
INFLUX_USER, INFLUX_PASSWORD = "cerc", "cerc_influx_dev"  # development key (infra/influxdb.sh)
BOOTSTRAP = f"127.0.0.1:{ports()['KAFKA_PORT']}"
INFLUX_URL = f"http://127.0.0.1:{ports()['INFLUX_PORT']}"

# Plant ids of this session: far from any a CER service hands out in development.
_plant_ids = itertools.count(random.randrange(10**8, 9 * 10**8, 10**5))


def new_plant_id() -> int:
    return next(_plant_ids)


def recreate_influx_database(name: str) -> None:
    for statement in (f'DROP DATABASE "{name}"', f'CREATE DATABASE "{name}"'):
        try:
            response = httpx.post(
                f"{INFLUX_URL}/query",
                data={"q": statement},
                auth=(INFLUX_USER, INFLUX_PASSWORD),
                timeout=10,
            )
        except httpx.HTTPError as exc:
            raise RuntimeError(f"InfluxDB is not usable (did `make infra-up` run?): {exc}") from exc
        assert response.status_code == 200 and '"error"' not in response.text, response.text


async def ensure_topics(topics: list[str]) -> list[TopicPartition]:
    """Create the topics if absent (3 partitions, as the broker's default); their partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        for topic in topics:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in topic["partitions"]
    ]


async def start_group_at_end(group: str, topics: list[str]) -> None:
    """Commit the end of ``topics`` for ``group`` so it reads only what comes next."""
    partitions = await ensure_topics(topics)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=BOOTSTRAP, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in ends.items()})
    finally:
        await consumer.stop()


@pytest.fixture(scope="session")
def settings() -> EnergySettings:
    dsn = prepare_database("energy", "cerc_test_energy", SERVICE_DIR)
    recreate_influx_database(INFLUX_DATABASE)
    return EnergySettings(
        database_url=dsn,
        environment="test",
        **kit.bus_principal("energy"),
        influx_url=INFLUX_URL,
        influx_bucket=f"{INFLUX_DATABASE}/autogen",
        consumer_group_prefix=f"energy-tests-{uuid.uuid4().hex[:8]}",
        # Read models are fed through the consumer's handler in the tests.
        consume_read_models=False,
        # The community hours are computed by the tests that read them, when they say.
        community_hours=False,
        ingest_poll_timeout_ms=50,
    )


@pytest.fixture(scope="session")
async def app(settings: EnergySettings) -> AsyncIterator[FastAPI]:
    await start_group_at_end(settings.consumer_group("ingest"), [MEASUREMENT_TOPIC, DEVICE_TOPIC])
    async with kit.running_app(create_app(settings), settings, TOKENS) as application:
        yield application


@pytest.fixture(scope="session")
def store(app: FastAPI) -> InfluxTimeSeries:
    ts: InfluxTimeSeries = app.state.timeseries
    return ts


@pytest.fixture(scope="session")
async def producer() -> AsyncIterator[AIOKafkaProducer]:
    kafka = new_producer(BOOTSTRAP, "energy-tests")
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


# The app fixture is this conftest's own (above): its ingestion starts at the topics' end.
_kit_app, sessionmaker, client = kit.service_fixtures(
    create_app, base_url="http://energy", tokens=TOKENS
)
del _kit_app


def token(user_id: int, user_type: str = "PRIVATE") -> str:
    return TOKENS.token(user_id, user_type)


def auth(user_id: int, user_type: str = "PRIVATE") -> dict[str, str]:
    return TOKENS.headers(user_id, user_type)


class ReadModels:
    """Feeds the plant and membership read models the way plant.v1 and
    membership.v1 do: through the consumer and its handler."""

    def __init__(
        self, maker: async_sessionmaker[AsyncSession], scopes: ScopeCache[Any] | None = None
    ) -> None:
        self.maker = maker
        self.consumer = IdempotentConsumer(
            name="energy-tests",
            topics=[],
            bootstrap="unused:0",
            sessionmaker=maker,
            processed=processed_events,
            # As the app's consumer: the app's kept reading scopes are forgotten.
            handler=handle_read_model_event if scopes is None else read_model_handler(scopes),
        )
        self._memberships = itertools.count(random.randrange(10**8, 9 * 10**8))

    async def deliver(self, event: Event) -> EventEnvelope:
        envelope = EventEnvelope.wrap(event, producer="cer", correlation_id=None)
        assert await self.consumer.handle(envelope)
        return envelope

    async def plant(self, plant_id: int, owner: int, community: int, **extra: Any) -> None:
        await self.deliver(
            PlantRegistered(
                plant_id=plant_id,
                pod=f"IT001E{plant_id % 10**8:08d}",
                name=f"Impianto {plant_id}",
                community_id=community,
                owner_user_id=owner,
                plant_type="PROSUMER",
                nominal_power_kw="6.00",
                technology="PV",
                entry_into_service=date(2024, 6, 1),
                region="Lombardia",
                primary_substation="AC001E01234",
                market_zone="NORD",
                capital_grant_eur_per_kw="0",
                connection_voltage="BT",
                valid_from=date(2025, 1, 1),
                valid_to=None,
                **extra,
            )
        )

    async def member(
        self, user_id: int, community: int, role: str = "MEMBER", ended: date | None = None
    ) -> None:
        facts: dict[str, Any] = {
            "membership_id": next(self._memberships),
            "community_id": community,
            "user_id": user_id,
            "role": role,
            "member_type": "PRIVATE",
            "body_type": "NONE",
            "valid_from": date(2024, 1, 1),
            "valid_to": None,
        }
        await self.deliver(MembershipStarted(**facts))
        if ended is not None:
            await self.deliver(MembershipEnded(**{**facts, "valid_to": ended}))


@pytest.fixture
def read_models(sessionmaker: async_sessionmaker[AsyncSession], app: FastAPI) -> ReadModels:
    return ReadModels(sessionmaker, app.state.reading_scopes)


def readings_event(
    plant_id: int,
    readings: list[tuple[str, datetime, float]],
    source: str = "iot",
) -> EventEnvelope:
    """A MeasurementsAccepted of (device, end of interval, kWh consumed) readings."""
    event = MeasurementsAccepted(
        plant_id=plant_id,
        source=source,  # type: ignore[arg-type]
        readings=[
            Reading(device_id=d, timestamp=t, interval_s=900, energy_consumed_kwh=kwh)
            for d, t, kwh in readings
        ],
    )
    return EventEnvelope.wrap(event, producer="iot", correlation_id=None)


async def produce(producer: AIOKafkaProducer, envelope: EventEnvelope) -> None:
    await producer.send_and_wait(
        envelope.topic, value=envelope.model_dump_json().encode(), key=envelope.key.encode()
    )
