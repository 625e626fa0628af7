"""The live tally's own reader of ``measurement.v1``: every partition, no
consumer group, from the start of the Italian day.

Why not the ingestion's batches. The ingesting replicas share the topic's
partitions in one consumer group, so a tally fed by its replica's ingestion
saw only the partitions that replica owned (partial figures, a client's view
depending on the replica the gateway picked) and began again from zero after
a restart or when a rebalance moved a partition. Here every replica reads
every partition itself, so each holds the complete tally of every community;
and at start (and after a lost broker) it seeks each partition to the first
record written since local midnight (Kafka's time index), so the day is read
again rather than lost. Counting a reading twice is impossible either way:
the tally takes a device's reading only when it is newer than the last it
counted.

The cost is that every replica decodes every reading (N replicas: N times
the decoding, none of the storing); bench/bench_live_tally.py measures it.
The alternative, replicas publishing their partitions' partial sums to a
compacted topic, would decode once but needs the per-plant-quarter state and
offsets carried over a rebalance; not worth it while decoding is a small part
of a reading's cost (the InfluxDB write is most of it).

What the tally counts is what the ingestion stores: the same readers
(``ingest.fast_points``, else the catalogue's models); a record neither can
read is the ingestion's dead letter and is skipped here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from cerc_shared.events import EventEnvelope
from cerc_shared.worker import Worker
from pydantic import ValidationError

from energy_service.ingest import fast_points, points_of
from energy_service.live import LiveTally
from energy_service.timeseries import Point

log = logging.getLogger(__name__)

# Records written this long before midnight are read too: a reading's record
# is written after the reading's end, but producers' clocks drift.
REPLAY_MARGIN_S = 300


def records_points(values: list[bytes | None]) -> list[Point]:
    """The points of ``measurement.v1`` records as the ingestion reads them."""
    points: list[Point] = []
    for value in values:
        found = fast_points(value or b"")
        if found is None:
            try:
                found = points_of(EventEnvelope.model_validate_json(value or b""))
            except ValidationError:
                continue  # the ingestion dead-letters it
        points.extend(found)
    return points


class LiveFeed(Worker):
    """Reads every partition of ``topic`` into ``tally``, from the day's start.

    ``prepare`` runs before the first read (the plant directory's first load:
    a reading of a plant the directory does not know is not counted, so the
    day is not read again before the plants are known). ``tally.replaying``
    is true until the feed has read what the partitions held at its start."""

    restart_delay_s = 2.0

    def __init__(
        self,
        tally: LiveTally,
        *,
        topic: str,
        bootstrap: str,
        prepare: Callable[[], Awaitable[None]] | None = None,
        max_records: int = 5000,
        poll_timeout_ms: int = 100,
        fetch_max_wait_ms: int = 100,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__("live-feed")
        self._tally = tally
        self._topic = topic
        self._bootstrap = bootstrap
        self._prepare = prepare
        self._max_records = max_records
        self._poll_timeout_ms = poll_timeout_ms
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._security = dict(security or {})
        self.records_read = 0

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        # Known once the consumer has started subscribed to the topic.
        partitions = consumer.partitions_for_topic(self._topic)
        if not partitions:
            raise RuntimeError(f"{self._topic} has no partitions yet; trying again")
        return [TopicPartition(self._topic, p) for p in sorted(partitions)]

    async def run(self) -> None:
        self._tally.replaying = True
        if self._prepare is not None:
            await self._prepare()
        consumer = AIOKafkaConsumer(
            self._topic,
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024,
            fetch_max_wait_ms=self._fetch_max_wait_ms,
            **self._security,
        )
        # Subscribed at start, so the topic's metadata is fetched (and the topic
        # created if absent); then assigned its partitions explicitly, to seek.
        try:
            await consumer.start()
            partitions = await self._partitions(consumer)
            consumer.unsubscribe()
            consumer.assign(partitions)
            since_ms = (self._tally.day_start - REPLAY_MARGIN_S) * 1000
            found = await consumer.offsets_for_times(dict.fromkeys(partitions, since_ms))
            ends = await consumer.end_offsets(partitions)
            for partition in partitions:
                at = found.get(partition)
                # None: nothing written since then; the end is where today begins.
                consumer.seek(partition, at.offset if at is not None else ends[partition])
            started = time.monotonic()
            behind = {p for p in partitions if (await consumer.position(p)) < ends[p]}
            self._caught_up_if(not behind, started)
            while True:
                batches = await consumer.getmany(
                    timeout_ms=self._poll_timeout_ms, max_records=self._max_records
                )
                values = [r.value for records in batches.values() for r in records]
                if values:
                    self.records_read += len(values)
                    self._tally.add(records_points(values))
                if behind:
                    for partition, records in batches.items():
                        if records and records[-1].offset + 1 >= ends[partition]:
                            behind.discard(partition)
                    self._caught_up_if(not behind, started)
        finally:
            await consumer.stop()

    def _caught_up_if(self, caught_up: bool, started: float) -> None:
        if caught_up and self._tally.replaying:
            self._tally.replaying = False
            log.info(
                "live tally: today's readings read again in %.1fs (%d records)",
                time.monotonic() - started,
                self.records_read,
            )
