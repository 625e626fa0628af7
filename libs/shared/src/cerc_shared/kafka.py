"""Kafka for every service: the producer settings (outbox relay, dead
letters) and the one poll loop with dead-lettering that the idempotent
consumer and the energy ingestion both run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from cerc_shared.metrics import DEAD_LETTERS, observe_lag
from cerc_shared.worker import Worker

log = logging.getLogger(__name__)

CORRELATION_HEADER = "correlation_id"
EVENT_TYPE_HEADER = "event_type"


def new_producer(
    bootstrap: str, client_id: str, security: Mapping[str, Any] | None = None
) -> AIOKafkaProducer:
    """``security``: the service's principal (ServiceSettings.kafka_client_options)."""
    # acks=all + idempotence: a retried send is written once per partition.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=10_000,
        **(security or {}),
    )


Record: TypeAlias = ConsumerRecord[bytes, bytes]
DLQ_SUFFIX = ".dlq"


class KafkaPollLoop(Worker):
    """Poll ``topics`` as the group ``group_id``, hand each batch to
    :meth:`handle_batch` and commit its offsets once it returns: a record is
    settled (acted on, or dead-lettered) before its offset moves, so a crash
    or a rebalance redelivers rather than loses. A lost broker ends the poll;
    the worker starts it again (uncommitted records come again).

    :meth:`dead_letter` sends records to ``<topic>.dlq`` with the reason in
    their headers (``reason``, ``source``, ``consumer``)."""

    def __init__(
        self,
        name: str,
        *,
        topics: Sequence[str],
        bootstrap: str,
        group_id: str,
        label: str,
        max_records: int = 500,
        poll_timeout_ms: int = 500,
        consumer_options: Mapping[str, Any] | None = None,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(name)
        self._topics = list(topics)
        self._bootstrap = bootstrap
        self._group_id = group_id
        # Who dead-letters, in the ``consumer`` header and the producer's client id.
        self._label = label
        self._max_records = max_records
        self._poll_timeout_ms = poll_timeout_ms
        self._consumer_options = dict(consumer_options or {})
        self._security = dict(security or {})
        self._dlq: AIOKafkaProducer | None = None
        self.dead_lettered = 0

    async def handle_batch(self, records: list[Record]) -> None:
        """Settle every record of the batch (act on it or dead-letter it)."""
        raise NotImplementedError

    async def settle(self, consumer: AIOKafkaConsumer, records: list[Record]) -> None:
        """Handle the batch and commit its offsets. A subclass may commit later
        (once what it did is durable), but never before the batch is settled."""
        await self.handle_batch(records)
        await consumer.commit()

    async def idle(self) -> None:
        """A poll fetched nothing."""

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap,
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self._consumer_options,
            **self._security,
        )
        dlq = self._dlq = new_producer(self._bootstrap, f"{self._label}-dlq", self._security)
        try:
            await consumer.start()
            await dlq.start()
            while True:
                batches = await consumer.getmany(
                    timeout_ms=self._poll_timeout_ms, max_records=self._max_records
                )
                records = [record for partition in batches.values() for record in partition]
                # Every poll, empty or not: a consumer that fell behind and stopped
                # receiving still reports its lag (kafka_consumer_lag_records).
                await observe_lag(consumer, self._group_id)
                if not records:
                    await self.idle()
                    continue
                await self.settle(consumer, records)
        finally:
            # The producer is stopped even if stopping the consumer is cancelled.
            try:
                with contextlib.suppress(Exception):
                    await consumer.stop()
            finally:
                with contextlib.suppress(Exception):
                    await dlq.stop()

    async def dead_letter(self, dead: Sequence[tuple[Record, str]]) -> None:
        """Send each record to its topic's dead-letter topic; return once all are written."""
        if self._dlq is None:
            raise RuntimeError(f"{self.name} is not polling: no dead-letter producer")
        futures = []
        for record, reason in dead:
            log.warning("dead-lettering %s@%s: %s", record.topic, record.offset, reason)
            futures.append(
                await self._dlq.send(
                    record.topic + DLQ_SUFFIX,
                    value=record.value,
                    key=record.key,
                    headers=[
                        ("reason", reason.encode()[:1000]),
                        ("source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
                        ("consumer", self._label.encode()),
                    ],
                )
            )
        await asyncio.gather(*futures)
        self.dead_lettered += len(dead)
        for record, _ in dead:
            DEAD_LETTERS.labels(record.topic + DLQ_SUFFIX, self._label).inc()
