"""The idempotent consumer against real Kafka and PostgreSQL: the same event
twice acts once; an unreadable message goes to the dead-letter topic and the
next good one is still handled."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cerc_shared.consumer import DLQ_SUFFIX, IdempotentConsumer, define_processed_events
from cerc_shared.events import EventEnvelope
from cerc_shared.events.user import UserRegistered
from cerc_shared.testing import bootstrap_database, ports, service_dsn
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

metadata = MetaData()
processed = define_processed_events(metadata)
effects = Table(
    "effects", metadata, Column("id", Integer, primary_key=True), Column("user", String)
)


@pytest.fixture(scope="module")
def database() -> str:
    bootstrap_database("cerc_test_shared")
    return service_dsn("notification", "cerc_test_shared")


@pytest.fixture
async def engine(database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(
        database, connect_args={"server_settings": {"search_path": "notification"}}
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def _bootstrap() -> str:
    return f"127.0.0.1:{ports()['KAFKA_PORT']}"


async def _wait(predicate: object, within_s: float = 30) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached in time")


async def test_same_event_twice_acts_once_and_bad_messages_dead_letter(engine: AsyncEngine) -> None:
    topic = f"test.consumer.{uuid.uuid4().hex[:8]}"
    maker = async_sessionmaker(engine, expire_on_commit=False)

    async def handler(session: AsyncSession, envelope: EventEnvelope) -> None:
        await session.execute(insert(effects).values(user=envelope.key))

    consumer = IdempotentConsumer(
        name=f"test-{topic}",
        topics=[topic],
        bootstrap=_bootstrap(),
        sessionmaker=maker,
        processed=processed,
        handler=handler,
    )
    event = UserRegistered(
        user_id=7, username="u7", email="u7@ex.it", first_name="U", last_name="Seven",
        user_type="PRIVATE", is_active=True,
    )  # fmt: skip
    envelope = EventEnvelope.wrap(event, producer="test", correlation_id="c-1")
    second = EventEnvelope.wrap(
        event.model_copy(update={"user_id": 8}), producer="test", correlation_id=None
    )
    producer = AIOKafkaProducer(bootstrap_servers=_bootstrap())
    await producer.start()
    try:
        raw = envelope.model_dump_json().encode()
        await producer.send_and_wait(topic, raw, key=b"7")
        await producer.send_and_wait(topic, raw, key=b"7")  # a redelivery
        await producer.send_and_wait(topic, b"{not an envelope", key=b"x")
        await producer.send_and_wait(topic, json.dumps({"id": "nope"}).encode(), key=b"y")
        await producer.send_and_wait(topic, second.model_dump_json().encode(), key=b"8")
    finally:
        await producer.stop()

    consumer.start()
    try:

        async def done() -> bool:
            return consumer.handled + consumer.duplicates + consumer.dead_lettered >= 5

        await _wait(done)
    finally:
        await consumer.stop()

    async with maker() as session:
        rows = (
            (await session.execute(select(effects.c.user).order_by(effects.c.id))).scalars().all()
        )
        seen = await session.scalar(text("SELECT count(*) FROM processed_events"))
    assert rows == ["7", "8"]
    assert seen == 2
    assert (consumer.handled, consumer.duplicates, consumer.dead_lettered) == (2, 1, 2)

    dlq = AIOKafkaConsumer(
        topic + DLQ_SUFFIX, bootstrap_servers=_bootstrap(), auto_offset_reset="earliest"
    )
    await dlq.start()
    try:
        records = []
        deadline = time.monotonic() + 20
        while len(records) < 2 and time.monotonic() < deadline:
            for batch in (await dlq.getmany(timeout_ms=500)).values():
                records.extend(batch)
    finally:
        await dlq.stop()
    reasons = [dict(r.headers)["reason"].decode() for r in records]
    assert len(reasons) == 2 and all(r.startswith("unreadable envelope") for r in reasons)
    assert dict(records[0].headers)["source"].decode().startswith(topic + "/")


async def test_namespaces_keep_fleets_on_one_broker_apart(engine: AsyncEngine) -> None:
    """Two fleets (say dev and e2e) on one broker: what one publishes through its
    outbox reaches only its own consumers, whose groups do not share partitions."""
    from cerc_shared.outbox import OutboxRelay, define_outbox, record

    outbox_metadata = MetaData()
    outbox = define_outbox(outbox_metadata)
    async with engine.begin() as conn:
        await conn.run_sync(outbox_metadata.create_all)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    run = uuid.uuid4().hex[:8]
    seen: dict[str, list[str]] = {"a": [], "b": []}

    def consumer_for(fleet: str) -> IdempotentConsumer:
        async def handler(_: AsyncSession, envelope: EventEnvelope) -> None:
            seen[fleet].append(envelope.key)

        return IdempotentConsumer(
            name=f"same-name-{run}",  # the same consumer name in both fleets
            topics=["user.v1"],
            bootstrap=_bootstrap(),
            sessionmaker=maker,
            processed=processed,
            handler=handler,
            namespace=f"fleet-{fleet}-{run}",
        )

    async with maker() as session, session.begin():
        for user_id in (101, 102):
            event = UserRegistered(
                user_id=user_id, username=f"u{user_id}", email=f"u{user_id}@ex.it",
                first_name="U", last_name="N", user_type="PRIVATE", is_active=True,
            )  # fmt: skip
            await record(session, outbox, event, producer="test")
    relay = OutboxRelay(
        maker, outbox, _bootstrap(), client_id="ns-test", namespace=f"fleet-a-{run}"
    )
    try:
        assert await relay.publish_pending() == 2
    finally:
        await relay.stop()

    consumers = {name: consumer_for(name) for name in ("a", "b")}
    for consumer in consumers.values():
        consumer.start()
    try:

        async def fleet_a_done() -> bool:
            return len(seen["a"]) >= 2

        await _wait(fleet_a_done)
        await asyncio.sleep(2)  # give fleet b every chance to (wrongly) see them
    finally:
        for consumer in consumers.values():
            await consumer.stop()
    assert sorted(seen["a"]) == ["101", "102"]
    assert seen["b"] == []


async def test_a_commit_wakes_the_relay_without_waiting_for_a_poll(
    database: str, engine: AsyncEngine
) -> None:
    """The writing transaction notifies at commit; a relay that polls only every
    minute still publishes the event at once. A rolled-back write wakes nobody."""
    from cerc_shared.outbox import OutboxRelay, define_outbox, record

    outbox_metadata = MetaData()
    outbox = define_outbox(outbox_metadata)
    async with engine.begin() as conn:
        await conn.run_sync(outbox_metadata.create_all)
        await conn.execute(outbox.update().values(published_at=text("now()")))
    maker = async_sessionmaker(engine, expire_on_commit=False)
    relay = OutboxRelay(
        maker, outbox, _bootstrap(), client_id="wake-test",
        namespace=f"wake-{uuid.uuid4().hex[:8]}", poll_interval_s=60, idle_poll_s=60,
        schema="notification",
        listen_dsn=database.replace("postgresql+asyncpg://", "postgresql://", 1),
    )  # fmt: skip
    relay.start()
    try:

        async def listening() -> bool:
            return relay.listening

        await _wait(listening)
        await asyncio.sleep(0.5)  # the first (empty) pass is over: the relay waits for a minute
        event = UserRegistered(
            user_id=7, username="u7", email="u7@ex.it", first_name="U", last_name="N",
            user_type="PRIVATE", is_active=True,
        )  # fmt: skip
        async with maker() as session:
            await record(session, outbox, event, producer="test")
            await session.rollback()
        await asyncio.sleep(1)
        assert relay.published_total == 0  # nothing committed, nothing woke it

        async with maker() as session, session.begin():
            await record(session, outbox, event, producer="test")

        async def published() -> bool:
            return relay.published_total == 1

        await _wait(published, within_s=20)
    finally:
        await relay.stop()


async def test_outbox_backlog_and_consumer_lag_reach_the_metrics(engine: AsyncEngine) -> None:
    """What the alerts read: the oldest pending event's time while the broker
    refuses, 0 once published; a consumer's lag from its position."""
    from cerc_shared.metrics import observe_lag
    from cerc_shared.outbox import OutboxRelay, define_outbox, record
    from prometheus_client import REGISTRY

    outbox_metadata = MetaData()
    outbox = define_outbox(outbox_metadata)
    async with engine.begin() as conn:
        await conn.run_sync(outbox_metadata.create_all)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    run = uuid.uuid4().hex[:8]
    namespace = f"metrics-{run}"
    good = OutboxRelay(maker, outbox, _bootstrap(), client_id="metrics-outbox", namespace=namespace)
    # Nothing of another test left pending.
    while await good.publish_pending():
        pass

    def sample(name: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"service": "metrics"})

    async with maker() as session, session.begin():
        # One key twice: one partition, so the lag below is exactly one record.
        for user_id in (201, 201):
            event = UserRegistered(
                user_id=user_id, username=f"u{user_id}", email=f"u{user_id}@ex.it",
                first_name="U", last_name="N", user_type="PRIVATE", is_active=True,
            )  # fmt: skip
            await record(session, outbox, event, producer="test")
    written = time.time()
    # A broker nobody listens on: the round fails after the backlog is seen.
    down = OutboxRelay(maker, outbox, "127.0.0.1:9", client_id="metrics-outbox")
    with pytest.raises(Exception):  # noqa: B017 - aiokafka's connection error
        await down.publish_pending()
    await down.stop()
    oldest = sample("outbox_oldest_pending_timestamp_seconds")
    assert oldest is not None and written - 30 < oldest <= written + 1
    published_before = sample("outbox_published_total") or 0.0
    try:
        assert await good.publish_pending() == 2
        assert await good.publish_pending() == 0
    finally:
        await good.stop()
    assert sample("outbox_oldest_pending_timestamp_seconds") == 0
    assert sample("outbox_published_total") == published_before + 2

    group = f"lag-{run}"
    consumer = AIOKafkaConsumer(
        f"{namespace}.user.v1",
        bootstrap_servers=_bootstrap(),
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        taken = 0
        deadline = time.monotonic() + 30
        while not taken and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=1)
            taken = sum(len(r) for r in batches.values())
        assert taken == 1
        await observe_lag(consumer, group)
        # One of the two read, the other still behind; the other partitions empty.
        reported = _lags(group)
        assert sorted(reported) == [0.0] * (len(reported) - 1) + [1.0]
        # Its partitions taken away (as by a rebalance): no stale figure left.
        consumer.unsubscribe()
        assert consumer.assignment() == set()
        await observe_lag(consumer, group)
    finally:
        await consumer.stop()
    assert _lags(group) == []


def _lags(group: str) -> list[float]:
    from prometheus_client import REGISTRY

    return [
        s.value
        for metric in REGISTRY.collect()
        if metric.name == "kafka_consumer_lag_records"
        for s in metric.samples
        if s.labels["group"] == group
    ]
