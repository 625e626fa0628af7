"""Ingestion: meter readings (``measurement.v1``) and device status
(``device.v1``) from Kafka into the time-series store, in large batches.

Delivery. Offsets are committed only after every record of a fetched batch is
either stored or dead-lettered, so a crash, a rebalance or a broker restart
redelivers records (at least once). Stored points are idempotent: a point's
identity is its measurement, tag set (plant_id, device_id, source) and
timestamp, and the store overwrites a point written again. At least once
delivery plus idempotent points is exactly once stored.

Marks. Each plant-hour written is marked for the community's hourly sums
(``mark``, hourly/service.py ``DirtyMarker``): a PostgreSQL transaction that
may wait for the hourly worker's. It is taken off the write path: batch N's
marks are written while batch N+1 is decoded and written to InfluxDB, and
batch N's offsets are committed only once both its points and its marks are
durable (a crash in between redelivers the batch, which writes the same points
and marks the same hours again). Marks are made after the write, never before:
the hourly worker drops a mark it has taken in only if it was not marked again
since, so a mark must be later than the write it stands for.

This is why the shared ``IdempotentConsumer`` is not used here: it records
event ids in Postgres, which cannot commit atomically with InfluxDB, would
cost a database round trip per event at thousands of readings a second, and
would not catch the same reading arriving in two different events (a device
re-sending, an import run twice). The point identity catches all of these.

Failures. A record that cannot be read (not an event of the catalogue,
invalid fields) or that the store refuses (InfluxDB answers 400) goes to
``<topic>.dlq`` with the reason, and the rest of the batch is stored. A store
that is unreachable or failing (connection refused, 5xx, 401) is not the data's
fault: the batch is retried with backoff, no offset is committed, and nothing
new is fetched until it succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from cerc_shared.events import EventEnvelope
from cerc_shared.events.iot import DeviceStatusChanged, MeasurementsAccepted
from cerc_shared.kafka import KafkaPollLoop, Record
from prometheus_client import Counter
from pydantic import ValidationError

from energy_service.quantities import MEASURING_POINTS, stored_energy
from energy_service.timeseries import (
    ENERGY_MEASUREMENT,
    STATUS_MEASUREMENT,
    DeviceStatusPoint,
    EnergyPoint,
    Point,
    TimeSeriesRejected,
    TimeSeriesStore,
    TimeSeriesUnavailable,
)

log = logging.getLogger(__name__)

MEASUREMENT_TOPIC = MeasurementsAccepted.topic
DEVICE_TOPIC = DeviceStatusChanged.topic


# On /metrics: points the store has accepted (readable from then on), by measurement.
POINTS_WRITTEN = Counter(
    "energy_points_written_total", "Points written to the time-series store", ["measurement"]
)
# Writes the store did not take (unreachable, 5xx, 401), each retried with backoff.
STORE_WRITE_FAILURES = Counter(
    "energy_store_write_failures_total", "Failed writes to the time-series store"
)
# Marks of the hourly sums that failed (PostgreSQL unreachable...), each retried with backoff.
MARK_FAILURES = Counter(
    "energy_hourly_mark_failures_total", "Failed dirty marks of written plant-hours"
)


# ---------------------------------------------------------------- fast path
#
# At thousands of readings a second, validating each event through the
# catalogue's pydantic models was the largest cost of ingestion. Most records
# are the bridge's ``measurement.accepted`` in the plain form it writes; those
# are read here with orjson and checked field by field against the same rules
# (catalogue: Reading, MeasurementsAccepted, EventEnvelope). Anything this
# reader is not sure of -- another event, a number given as a string, a
# timestamp without an offset, any error -- goes to the catalogue's models,
# which decide (and give the reason a dead letter carries). tests/test_ingest.py
# holds the two readers together.

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_SOURCES = frozenset(("iot", "official", "manual"))
# Reading's float fields and whether they must be >= 0.
_READING_FLOATS = (
    ("energy_produced_kwh", True),
    ("energy_consumed_kwh", True),
    ("energy_fed_in_kwh", True),
    ("energy_withdrawn_kwh", True),
    ("power_produced_kw", False),
    ("power_consumed_kw", False),
    ("voltage", False),
    ("current", False),
    ("frequency", False),
    ("power_factor", False),
)


_READING_NAMES = tuple(name for name, _ in _READING_FLOATS)
_NON_NEGATIVE = tuple(name for name, non_negative in _READING_FLOATS if non_negative)


def _aware(value: Any) -> datetime | None:
    if type(value) is not str or _RFC3339.fullmatch(value) is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# Readings' timestamps already read, by their text: a fleet's devices report
# on the same ticks, so a few strings stand for most readings. Only valid
# ones are kept; emptied when full.
_TIMESTAMPS: dict[str, datetime] = {}
_TIMESTAMPS_MAX = 4096


def _reading_timestamp(value: Any) -> datetime | None:
    if type(value) is str:
        known = _TIMESTAMPS.get(value)
        if known is not None:
            return known
    timestamp = _aware(value)
    if timestamp is not None:
        if len(_TIMESTAMPS) >= _TIMESTAMPS_MAX:
            _TIMESTAMPS.clear()
        _TIMESTAMPS[value] = timestamp
    return timestamp


def fast_points(value: bytes) -> list[Point] | None:
    """The points of a plain ``measurement.accepted`` record, as
    ``points_of(EventEnvelope.model_validate_json(value))`` gives them; None
    when the record is anything else, for the catalogue's models to read."""
    try:
        envelope = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if type(envelope) is not dict:
        return None
    data = envelope.get("data")
    if not (
        type(data) is dict
        and data.get("type") == "measurement.accepted"
        and type(data.get("version")) is int
        and data["version"] == 1
        and type(envelope.get("id")) is str
        and _UUID.fullmatch(envelope["id"])
        and type(envelope.get("type")) is str
        and type(envelope.get("version")) is int
        and _aware(envelope.get("occurred_at")) is not None
        and type(envelope.get("producer")) is str
        and type(envelope.get("key")) is str
        and (envelope.get("correlation_id") is None or type(envelope["correlation_id"]) is str)
        and type(data.get("plant_id")) is int
        and data.get("source", "iot") in _SOURCES
        and type(data.get("readings")) is list
    ):
        return None
    plant_id: int = data["plant_id"]
    source: str = data.get("source", "iot")
    points: list[Point] = []
    for reading in data["readings"]:
        if type(reading) is not dict or type(reading.get("device_id")) is not str:
            return None
        timestamp = _reading_timestamp(reading.get("timestamp"))
        interval_s = reading.get("interval_s")
        if timestamp is None or not (
            interval_s is None or (type(interval_s) is int and interval_s >= 1)
        ):
            return None
        get = reading.get
        values: dict[str, float | None] = {name: get(name) for name in _READING_NAMES}
        measured = False
        for name, number in values.items():
            if number is None:
                continue
            measured = True
            if type(number) is not float:
                # JSON integers are numbers too (the catalogue's floats take them).
                if type(number) is not int:
                    return None
                values[name] = float(number)
        if not measured:
            continue
        for name in _NON_NEGATIVE:
            number = values[name]
            if number is not None and number < 0:
                return None
        measuring_point = get("measuring_point")
        if measuring_point is not None:
            if measuring_point not in MEASURING_POINTS:
                return None
            values = stored_energy(values, measuring_point)
        points.append(EnergyPoint(plant_id, reading["device_id"], source, timestamp, values))
    return points


@dataclass(slots=True)
class _Item:
    record: Record
    points: list[Point]


def points_of(envelope: EventEnvelope) -> list[Point]:
    """The points an event becomes; an event of another kind becomes none."""
    event = envelope.data
    if isinstance(event, MeasurementsAccepted):
        points: list[Point] = []
        for reading in event.readings:
            values = {
                "energy_produced_kwh": reading.energy_produced_kwh,
                "energy_consumed_kwh": reading.energy_consumed_kwh,
                "energy_fed_in_kwh": reading.energy_fed_in_kwh,
                "energy_withdrawn_kwh": reading.energy_withdrawn_kwh,
                "power_produced_kw": reading.power_produced_kw,
                "power_consumed_kw": reading.power_consumed_kw,
                "voltage": reading.voltage,
                "current": reading.current,
                "frequency": reading.frequency,
                "power_factor": reading.power_factor,
            }
            values = stored_energy(values, reading.measuring_point)
            # A reading with nothing measured (the bridge's baseline of a
            # cumulative register) has nothing to store; it is not an error.
            if any(v is not None for v in values.values()):
                points.append(
                    EnergyPoint(
                        plant_id=event.plant_id,
                        device_id=reading.device_id,
                        source=event.source,
                        timestamp=reading.timestamp,
                        values=values,
                    )
                )
        return points
    if isinstance(event, DeviceStatusChanged):
        # The status's instant is when the device was last seen, else when the
        # change was recorded: both travel with the event, so a redelivery
        # lands on the same point.
        return [
            DeviceStatusPoint(
                plant_id=event.plant_id,
                device_id=event.device_id,
                timestamp=event.last_seen or envelope.occurred_at,
                status=event.status,
                last_seen=event.last_seen,
                battery_level=event.battery_level,
                signal_strength=event.signal_strength,
            )
        ]
    return []


class MeasurementIngestor(KafkaPollLoop):
    def __init__(
        self,
        *,
        store: TimeSeriesStore,
        bootstrap: str,
        group_id: str,
        topics: Sequence[str] = (MEASUREMENT_TOPIC, DEVICE_TOPIC),
        max_records: int = 5000,
        poll_timeout_ms: int = 100,
        chunk_points: int = 10_000,
        max_backoff_s: float = 5.0,
        fetch_min_bytes: int = 1,
        fetch_max_wait_ms: int = 500,
        on_stored: Callable[[Sequence[Point]], None] | None = None,
        mark: Callable[[Sequence[Point]], Awaitable[None]] | None = None,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            f"ingest-{group_id}",
            topics=topics,
            bootstrap=bootstrap,
            group_id=group_id,
            label=group_id,
            max_records=max_records,
            poll_timeout_ms=poll_timeout_ms,
            consumer_options={
                # Large fetches: throughput comes from batches.
                "max_partition_fetch_bytes": 8 * 1024 * 1024,
                "fetch_max_bytes": 32 * 1024 * 1024,
                # The broker answers a fetch when it has this much, or after
                # the wait: fewer, larger batches (each poll, write and commit
                # has a cost of its own, on both sides) for a bounded delay.
                "fetch_min_bytes": fetch_min_bytes,
                "fetch_max_wait_ms": fetch_max_wait_ms,
                # A store outage holds the poll loop; stay in the group meanwhile.
                "max_poll_interval_ms": 900_000,
            },
            security=security,
        )
        self._store = store
        # Told of every batch the store accepted (the live tally); it must be
        # quick and is never allowed to stop ingestion.
        self._on_stored = on_stored
        # Told of every batch stored, off the write path;
        # the batch's offsets wait for it (the hourly sums' dirty marks).
        self._mark = mark
        # The previous batch's marks and commit, under way while the next is written.
        self._pending: asyncio.Task[None] | None = None
        self.mark_retries = 0
        self.group_id = group_id
        self._chunk_points = chunk_points
        self._max_backoff_s = max_backoff_s
        self.points_written = 0
        self.records_seen = 0
        self.write_retries = 0

    def failed(self, exc: Exception) -> None:
        # Uncommitted records come again from the last commit: the points
        # they make are the same points, so nothing doubles.
        log.error(
            "ingestion %s lost Kafka; restarting",
            self.group_id,
            exc_info=(type(exc), exc, exc.__traceback__),
        )

    async def handle_batch(self, records: list[Record]) -> None:
        stored = await self.ingest(records)
        if self._mark is not None:
            await self._marked(stored)

    async def settle(self, consumer: AIOKafkaConsumer, records: list[Record]) -> None:
        stored = await self.ingest(records)
        # The previous batch's marks went on meanwhile; its offsets precede these.
        await self._drain()
        offsets = _next_offsets(records)
        self._pending = asyncio.create_task(
            self._mark_and_commit(consumer, stored, offsets), name=f"{self.name}-marks"
        )

    async def idle(self) -> None:
        # The last batch's marks and commit finish on their own (no waiting here:
        # the next batch is written meanwhile); a failed one fails the loop now.
        if self._pending is not None and self._pending.done():
            await self._drain()

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            # Stopped or failed: a batch not committed is delivered again.
            pending, self._pending = self._pending, None
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending

    async def _drain(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending  # a failed commit fails the poll loop (it restarts)

    async def _mark_and_commit(
        self,
        consumer: AIOKafkaConsumer,
        stored: Sequence[Point],
        offsets: dict[TopicPartition, int],
    ) -> None:
        await self._marked(stored)
        await consumer.commit(offsets)

    async def _marked(self, points: Sequence[Point]) -> None:
        """Mark the points' plant-hours; retried until done (nothing is committed meanwhile)."""
        if self._mark is None or not points:
            return
        backoff = 0.1
        while True:
            try:
                await self._mark(points)
                return
            except Exception as exc:
                self.mark_retries += 1
                MARK_FAILURES.inc()
                log.warning("marking written hours failed (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)

    async def ingest(self, records: Sequence[Record]) -> list[Point]:
        """Store (or dead-letter) every record; return only when all are settled,
        with the points stored (their hours are not marked yet)."""
        self.records_seen += len(records)
        items: list[_Item] = []
        dead: list[tuple[Record, str]] = []
        for record in records:
            points = fast_points(record.value or b"")
            if points is None:
                try:
                    envelope = EventEnvelope.model_validate_json(record.value or b"")
                except ValidationError as exc:
                    first = exc.errors()[0]
                    where = ".".join(str(p) for p in first.get("loc", ()))
                    dead.append((record, f"unreadable event: {where}: {first['msg']}"))
                    continue
                points = points_of(envelope)
            if points:
                items.append(_Item(record, points))
        stored: list[Point] = []
        for chunk in _chunks(items, self._chunk_points):
            dead.extend(await self._write_chunk(chunk, stored))
        if dead:
            await self.dead_letter(dead)
        return stored

    async def _write_chunk(
        self, chunk: list[_Item], stored: list[Point]
    ) -> list[tuple[Record, str]]:
        points = [p for item in chunk for p in item.points]
        try:
            await self._write_retrying(points)
            stored.extend(points)
            return []
        except TimeSeriesRejected as exc:
            if len(chunk) == 1:
                return [(chunk[0].record, f"refused by the time-series store: {exc}")]
        # Find which records the store refuses: one write each. Points of the
        # accepted ones may be written twice; they are the same points.
        refused = []
        for item in chunk:
            try:
                await self._write_retrying(item.points)
                stored.extend(item.points)
            except TimeSeriesRejected as exc:
                refused.append((item.record, f"refused by the time-series store: {exc}"))
        return refused

    async def _write_retrying(self, points: list[Point]) -> None:
        backoff = 0.1
        while True:
            try:
                # The store's listener (on_written: the marks) is not told here:
                # this ingestion marks after the write, off its write path (settle).
                await self._store.write(points, notify=False)
                self.points_written += len(points)
                statuses = sum(isinstance(p, DeviceStatusPoint) for p in points)
                POINTS_WRITTEN.labels(ENERGY_MEASUREMENT).inc(len(points) - statuses)
                POINTS_WRITTEN.labels(STATUS_MEASUREMENT).inc(statuses)
                if self._on_stored is not None:
                    try:
                        self._on_stored(points)
                    except Exception:
                        log.exception("the live tally failed on a stored batch; ingestion goes on")
                return
            except TimeSeriesUnavailable as exc:
                self.write_retries += 1
                STORE_WRITE_FAILURES.inc()
                log.warning("time-series store unavailable (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)


def _next_offsets(records: Sequence[Record]) -> dict[TopicPartition, int]:
    """The offsets to commit once the batch is settled: each partition's last + 1."""
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        partition = TopicPartition(record.topic, record.partition)
        offsets[partition] = max(offsets.get(partition, 0), record.offset + 1)
    return offsets


def _chunks(items: list[_Item], max_points: int) -> list[list[_Item]]:
    chunks: list[list[_Item]] = []
    current: list[_Item] = []
    size = 0
    for item in items:
        if current and size + len(item.points) > max_points:
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += len(item.points)
    if current:
        chunks.append(current)
    return chunks
