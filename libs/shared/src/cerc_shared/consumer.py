"""An idempotent Kafka consumer with a dead-letter topic.

Each event id is recorded in the service's ``processed_events`` table in the
same transaction as the handler's effects, so an event delivered twice acts
once. A message that cannot be parsed or handled goes to ``<topic>.dlq`` with
the reason in its headers, and the consumer goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cerc_shared.events import EventEnvelope
from cerc_shared.kafka import CORRELATION_HEADER, DLQ_SUFFIX, KafkaPollLoop, Record
from cerc_shared.logging import set_correlation_id
from cerc_shared.settings import namespaced

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]
__all__ = ["DLQ_SUFFIX", "Handler", "IdempotentConsumer", "define_processed_events"]


def define_processed_events(metadata: MetaData) -> Table:
    return Table(
        "processed_events",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("consumer", String(200), primary_key=True),
        Column("type", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class IdempotentConsumer(KafkaPollLoop):
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
        security: Mapping[str, Any] | None = None,
    ) -> None:
        # ``name`` is recorded with each processed event; the Kafka group and
        # topics live in ``namespace`` (see ServiceSettings.kafka_namespace).
        super().__init__(
            name,
            topics=[namespaced(namespace, t) for t in topics],
            bootstrap=bootstrap,
            group_id=namespaced(namespace, name),
            label=name,
            security=security,
        )
        self._sessionmaker = sessionmaker
        self._processed = processed
        self._handler = handler
        self.handled = 0
        self.duplicates = 0

    async def handle_batch(self, records: list[Record]) -> None:
        for record in records:
            await self.handle_record(record)

    async def handle_record(self, record: Record) -> None:
        headers = dict(record.headers or ())
        set_correlation_id((headers.get(CORRELATION_HEADER) or b"").decode() or None)
        try:
            envelope = EventEnvelope.model_validate_json(record.value or b"")
        except ValidationError as exc:
            await self.dead_letter([(record, f"unreadable envelope: {exc.errors()[0]['msg']}")])
            return
        try:
            acted = await self.handle(envelope)
        except Exception as exc:
            log.exception("handler failed for %s %s", envelope.type, envelope.id)
            await self.dead_letter([(record, f"{type(exc).__name__}: {exc}")])
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
