"""The ingestion's dirty marks (the community hourly sums) off its write path,
on real Kafka, InfluxDB and PostgreSQL: a batch's offsets are committed only
once its points and its marks are durable; the next batch is written while
the marks go on; a crash between the write and the marks redelivers the
batch, which is marked then (and stored once); failing marks are retried."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from cerc_shared.testing import eventually
from energy_service.hourly.models import hourly_dirty
from energy_service.hourly.repository import HourlyRepository
from energy_service.hourly.service import DirtyMarker, hours_written
from energy_service.ingest import MeasurementIngestor
from energy_service.settings import EnergySettings
from energy_service.timeseries import EnergyPoint, InfluxTimeSeries, Point
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import BOOTSTRAP, ensure_topics, new_plant_id, readings_event
from .test_ingest import stored

HOUR = datetime(2025, 6, 3, 8, 0, tzinfo=UTC)


class HeldMarker:
    """Marks through the real marker once let go; until then each call waits."""

    def __init__(self, marker: DirtyMarker) -> None:
        self.marker = marker
        self.release = asyncio.Event()
        self.calls: list[Sequence[Point]] = []

    async def __call__(self, points: Sequence[Point]) -> None:
        self.calls.append(points)
        await self.release.wait()
        await self.marker(points)


class Topic:
    """A topic of the test's own (one partition: offsets are easy to follow),
    and the ingestion group that reads it."""

    def __init__(self) -> None:
        self.name = f"energy-marks-test-{uuid.uuid4().hex[:10]}"
        self.group = f"{self.name}-ingest"
        self.partition = TopicPartition(self.name, 0)

    async def send(self, producer: AIOKafkaProducer, plant: int, hour: datetime) -> None:
        envelope = readings_event(
            plant, [("meter-1", hour + timedelta(minutes=15 * q), 0.25) for q in (1, 2, 3)]
        )
        await producer.send_and_wait(
            self.name, envelope.model_dump_json().encode(), key=envelope.key.encode(), partition=0
        )

    async def committed(self) -> int | None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=BOOTSTRAP, group_id=self.group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            return await consumer.committed(self.partition)
        finally:
            await consumer.stop()

    def ingestor(self, store: InfluxTimeSeries, mark: object) -> MeasurementIngestor:
        return MeasurementIngestor(
            store=store,
            bootstrap=BOOTSTRAP,
            group_id=self.group,
            topics=[self.name],
            poll_timeout_ms=50,
            fetch_max_wait_ms=50,
            max_backoff_s=0.2,
            mark=mark,  # type: ignore[arg-type]
        )


async def marked_hours(maker: async_sessionmaker[AsyncSession], plant: int) -> list[datetime]:
    async with maker() as session:
        found = await session.scalars(
            select(hourly_dirty.c.hour)
            .where(hourly_dirty.c.plant_id == plant)
            .order_by(hourly_dirty.c.hour)
        )
        return list(found)


async def test_offsets_wait_for_the_marks_and_a_crash_before_them_redelivers(
    settings: EnergySettings,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
) -> None:
    topic = Topic()
    await ensure_topics([topic.name])
    store = InfluxTimeSeries(settings.influx_url, settings.influx_token, "-", settings.bucket)
    first, second = new_plant_id(), new_plant_id()
    held = HeldMarker(DirtyMarker(sessionmaker))
    crashing = topic.ingestor(store, held)
    try:
        crashing.start()
        await topic.send(producer, first, HOUR)

        async def first_batch_marking() -> bool:
            return len(held.calls) == 1

        await eventually(first_batch_marking, "the first batch written and its marks begun")
        assert await stored(store, first) == 3
        # The next batch is written while the first one's marks wait.
        await topic.send(producer, second, HOUR + timedelta(hours=1))

        async def second_stored() -> bool:
            return await stored(store, second) == 3

        await eventually(second_stored, "the second batch written during the first's marks")
        await asyncio.sleep(0.5)
        assert len(held.calls) == 1  # no second marking before the first is done
        assert await topic.committed() is None
        assert await marked_hours(sessionmaker, first) == []
        # A crash: the points are in InfluxDB, their marks never made.
        await crashing.stop()
        assert await topic.committed() is None

        # Started again: both batches come again, are marked, then committed.
        again = topic.ingestor(store, DirtyMarker(sessionmaker))
        try:
            again.start()

            async def committed() -> bool:
                return await topic.committed() == 2

            await eventually(committed, "both batches committed after the restart")
            assert await marked_hours(sessionmaker, first) == [HOUR]
            assert await marked_hours(sessionmaker, second) == [HOUR + timedelta(hours=1)]
            # Written twice, stored once.
            assert await stored(store, first) == 3
            assert await stored(store, second) == 3
        finally:
            await again.stop()
    finally:
        await crashing.stop()
        await store.close()


async def test_failing_marks_are_retried_and_hold_the_commit(
    settings: EnergySettings,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
) -> None:
    topic = Topic()
    await ensure_topics([topic.name])
    store = InfluxTimeSeries(settings.influx_url, settings.influx_token, "-", settings.bucket)
    plant = new_plant_id()
    marker = DirtyMarker(sessionmaker)
    failures = 3
    commits_seen_while_failing: list[int | None] = []

    async def flaky(points: Sequence[Point]) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            commits_seen_while_failing.append(await topic.committed())
            raise ConnectionError("PostgreSQL is restarting")
        await marker(points)

    ingestor = topic.ingestor(store, flaky)
    try:
        ingestor.start()
        await topic.send(producer, plant, HOUR)

        async def committed() -> bool:
            return await topic.committed() == 1

        await eventually(committed, "the batch committed once marked")
        assert ingestor.mark_retries == 3
        assert commits_seen_while_failing == [None, None, None]
        assert await marked_hours(sessionmaker, plant) == [HOUR]
        assert ingestor.restarts == 0  # retried in place, the poll loop never failed
    finally:
        await ingestor.stop()
        await store.close()


async def test_marks_are_one_row_a_plant_hour_and_a_hour_marked_again_stays(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    plant = new_plant_id()
    later = HOUR + timedelta(hours=1)
    points = [
        EnergyPoint(plant, f"meter-{d}", "iot", HOUR + timedelta(minutes=m), {"voltage": 230.0})
        for d in range(3)
        for m in (15, 30, 45, 60)  # 09:00 ends the hour 08:00-09:00
    ] + [EnergyPoint(plant, "meter-0", "iot", later + timedelta(minutes=5), {"voltage": 1.0})]
    assert hours_written(points) == {(plant, HOUR), (plant, later)}
    await DirtyMarker(sessionmaker)(points)
    assert await marked_hours(sessionmaker, plant) == [HOUR, later]

    # The worker takes the marks in; meanwhile the first hour is written again.
    async with sessionmaker() as session:
        taken = [m for m in await HourlyRepository(session).dirty(10**6) if m[0] == plant]
    assert [h for _, h, _ in taken] == [HOUR, later]
    await DirtyMarker(sessionmaker)(points[:1])
    async with sessionmaker() as session, session.begin():
        await HourlyRepository(session).unmark(taken)
    # The hour written after the worker read it stays marked; the other is done.
    assert await marked_hours(sessionmaker, plant) == [HOUR]
