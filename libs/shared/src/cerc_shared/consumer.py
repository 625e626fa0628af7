"""An idempotent Kafka consumer with a dead-letter topic.

Each event id is recorded in the service's ``processed_events`` table in the
same transaction as the handler's effects, so an event delivered twice acts
once. A message that cannot be parsed or handled goes to ``<topic>.dlq`` with
the reason in its headers, and the consumer goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from pydantic import ValidationError
from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cerc_shared.events import EventEnvelope
from cerc_shared.kafka import CORRELATION_HEADER, new_producer
from cerc_shared.logging import set_correlation_id
from cerc_shared.metrics import DEAD_LETTERS, observe_lag
from cerc_shared.settings import namespaced

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]

DLQ_SUFFIX = ".dlq"


def define_processed_events(metadata: MetaData) -> Table:
    return Table(
        "processed_events",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("consumer", String(200), primary_key=True),
        Column("type", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class IdempotentConsumer:
    def __init__(
        self,
        *,
        name: str,
        topics: Iterable[str],
        bootstrap: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        processed: Table,
        handler: Handler,
        namespace: str = "",
    ) -> None:
        # ``name`` is recorded with each processed event; the Kafka group and
        # topics live in ``namespace`` (see ServiceSettings.kafka_namespace).
        self.name = name
        self._group = namespaced(namespace, name)
        self._topics = [namespaced(namespace, t) for t in topics]
        self._bootstrap = bootstrap
        self._sessionmaker = sessionmaker
        self._processed = processed
        self._handler = handler
        self._task: asyncio.Task[None] | None = None
        self.handled = 0
        self.duplicates = 0
        self.dead_lettered = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.name}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(
                *self._topics,
                bootstrap_servers=self._bootstrap,
                group_id=self._group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            dlq = new_producer(self._bootstrap, f"{self.name}-dlq")
            try:
                await consumer.start()
                await dlq.start()
                while True:
                    batches = await consumer.getmany(timeout_ms=500, max_records=500)
                    for records in batches.values():
                        for record in records:
                            await self.handle_record(record, dlq)
                    if batches:
                        await consumer.commit()
                    await observe_lag(consumer, self._group)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consumer %s lost its connection; restarting", self.name)
                await asyncio.sleep(1)
            finally:
                await consumer.stop()
                await dlq.stop()

    async def handle_record(
        self, record: ConsumerRecord[bytes, bytes], dlq: AIOKafkaProducer
    ) -> None:
        headers = dict(record.headers or ())
        set_correlation_id((headers.get(CORRELATION_HEADER) or b"").decode() or None)
        try:
            envelope = EventEnvelope.model_validate_json(record.value or b"")
        except ValidationError as exc:
            await self._dead_letter(dlq, record, f"unreadable envelope: {exc.errors()[0]['msg']}")
            return
        try:
            acted = await self.handle(envelope)
        except Exception as exc:
            log.exception("handler failed for %s %s", envelope.type, envelope.id)
            await self._dead_letter(dlq, record, f"{type(exc).__name__}: {exc}")
            return
        if not acted:
            self.duplicates += 1

    async def handle(self, envelope: EventEnvelope) -> bool:
        """Run the handler once per event id; return False when it had already run."""
        async with self._sessionmaker() as session, session.begin():
            inserted = await session.execute(
                insert(self._processed)
                .values(event_id=envelope.id, consumer=self.name, type=envelope.type)
                .on_conflict_do_nothing()
                .returning(self._processed.c.event_id)
            )
            if inserted.first() is None:
                return False
            await self._handler(session, envelope)
        self.handled += 1
        return True

    async def _dead_letter(
        self, dlq: AIOKafkaProducer, record: ConsumerRecord[bytes, bytes], reason: str
    ) -> None:
        self.dead_lettered += 1
        DEAD_LETTERS.labels(record.topic + DLQ_SUFFIX, self.name).inc()
        log.warning("dead-lettering %s@%s: %s", record.topic, record.offset, reason)
        await dlq.send_and_wait(
            record.topic + DLQ_SUFFIX,
            value=record.value,
            key=record.key,
            headers=[
                ("reason", reason.encode()[:1000]),
                ("source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
                ("consumer", self.name.encode()),
            ],
        )
