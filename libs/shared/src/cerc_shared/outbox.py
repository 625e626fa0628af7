"""The transactional outbox and its relay to Kafka.

A change and the events it causes are written in one transaction
(:func:`record`); the :class:`OutboxRelay` publishes what is pending, in the
order it was written, and marks it published. A broker that is down delays
events but never loses them; a crash between publish and mark republishes,
which idempotent consumers absorb.

The writing transaction also sends a PostgreSQL notification (``cerc_outbox``,
payload: the schema), delivered when it commits, to every replica's relay: the
relay publishes at once rather than at its next poll, and polls only seldom as
a safety net. A relay without a listening connection polls often instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Uuid,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cerc_shared.events import Event, EventEnvelope
from cerc_shared.kafka import CORRELATION_HEADER, EVENT_TYPE_HEADER, new_producer
from cerc_shared.logging import get_correlation_id
from cerc_shared.metrics import OUTBOX_FAILURES, OUTBOX_OLDEST_PENDING, OUTBOX_PUBLISHED
from cerc_shared.settings import ServiceSettings, namespaced
from cerc_shared.worker import Worker

log = logging.getLogger(__name__)

# One relay publishes at a time per service, so per-key order is the insert
# order even with several replicas running.
_RELAY_LOCK_KEY = 0x0C3C0117B0
WAKE_CHANNEL = "cerc_outbox"


async def _wake_relays(session: AsyncSession) -> None:
    """Delivered at commit (never, if the transaction rolls back); PostgreSQL
    folds repeats within one transaction into one."""
    await session.execute(select(func.pg_notify(WAKE_CHANNEL, func.current_schema())))


def define_outbox(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("type", String(200), nullable=False),
        Column("envelope", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Index("ix_outbox_pending", "id", postgresql_where=text("published_at IS NULL")),
    )


async def record(
    session: AsyncSession, outbox: Table, event: Event, *, producer: str
) -> EventEnvelope:
    """Add ``event`` to the outbox inside the caller's transaction."""
    envelope = EventEnvelope.wrap(event, producer=producer, correlation_id=get_correlation_id())
    await session.execute(
        outbox.insert().values(
            event_id=envelope.id,
            topic=envelope.topic,
            key=envelope.key,
            type=envelope.type,
            envelope=envelope.model_dump(mode="json"),
        )
    )
    await _wake_relays(session)
    return envelope


async def record_many(
    session: AsyncSession, outbox: Table, events: Sequence[Event], *, producer: str
) -> list[EventEnvelope]:
    """:func:`record` for many events in one statement, in this order."""
    correlation_id = get_correlation_id()
    envelopes = [
        EventEnvelope.wrap(event, producer=producer, correlation_id=correlation_id)
        for event in events
    ]
    if envelopes:
        await session.execute(
            outbox.insert(),
            [
                {
                    "event_id": envelope.id,
                    "topic": envelope.topic,
                    "key": envelope.key,
                    "type": envelope.type,
                    "envelope": envelope.model_dump(mode="json"),
                }
                for envelope in envelopes
            ],
        )
        await _wake_relays(session)
    return envelopes


class OutboxRelay(Worker):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        outbox: Table,
        bootstrap: str,
        client_id: str,
        poll_interval_s: float = 0.2,
        batch_size: int = 200,
        namespace: str = "",
        listen_dsn: str | None = None,
        schema: str = "",
        idle_poll_s: float = 5.0,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        """With ``listen_dsn`` (a plain ``postgresql://`` DSN) the relay listens
        for its ``schema``'s commits and polls every ``idle_poll_s``; without
        it, or while that connection is down, every ``poll_interval_s``."""
        super().__init__(f"outbox-relay-{client_id}")
        self._namespace = namespace
        self._listen_dsn = listen_dsn
        self._schema = schema
        self._idle_poll_s = idle_poll_s
        self._listener: asyncpg.Connection | None = None
        self._sessionmaker = sessionmaker
        self._outbox = outbox
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._security = dict(security or {})
        self._poll_interval_s = poll_interval_s
        self._batch_size = batch_size
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self.published_total = 0
        # The service, as the alerting rules see it (client ids are "<service>-outbox").
        self._metric_label = client_id.removesuffix("-outbox")

    @classmethod
    def from_settings(
        cls,
        settings: ServiceSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        outbox: Table,
    ) -> OutboxRelay:
        """The relay of a service as its settings describe it (broker, poll, namespace)."""
        return cls(
            sessionmaker,
            outbox,
            settings.kafka_bootstrap,
            client_id=f"{settings.service_name}-outbox",
            poll_interval_s=settings.outbox_poll_interval_s,
            namespace=settings.kafka_namespace,
            listen_dsn=settings.database_dsn,
            schema=settings.database_schema,
            security=settings.kafka_client_options(),
        )

    def poke(self) -> None:
        """Wake the relay now rather than at the next poll."""
        self._wake.set()

    async def closed(self) -> None:
        await self._close_producer()
        await self._close_listener()

    @property
    def listening(self) -> bool:
        return self._listener is not None and not self._listener.is_closed()

    def _on_commit(self, _: object, __: int, ___: str, schema: str) -> None:
        if not self._schema or schema == self._schema:
            self._wake.set()

    def _on_lost(self, _: object) -> None:
        self._listener = None
        self._wake.set()  # poll now, then often, until listening again

    async def _ensure_listener(self) -> None:
        if self._listen_dsn is None or self.listening:
            return
        try:
            connection = await asyncpg.connect(self._listen_dsn, timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            log.warning("outbox relay cannot listen for commits yet: %s", exc)
            return
        await connection.add_listener(WAKE_CHANNEL, self._on_commit)
        connection.add_termination_listener(self._on_lost)
        self._listener = connection

    async def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None and not listener.is_closed():
            with contextlib.suppress(Exception):
                await listener.close(timeout=2)

    async def pending(self) -> int:
        async with self._sessionmaker() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(self._outbox)
                .where(self._outbox.c.published_at.is_(None))
            )
            return int(count or 0)

    async def _close_producer(self) -> None:
        if self._producer is not None:
            try:
                await self._producer.stop()
            except Exception:
                log.warning("outbox producer did not stop cleanly", exc_info=True)
            self._producer = None

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = new_producer(self._bootstrap, self._client_id, self._security)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def run(self) -> None:
        backoff = self._poll_interval_s
        while True:
            await self._ensure_listener()
            # Cleared before looking, so a commit that lands while we look
            # wakes the next wait at once.
            self._wake.clear()
            try:
                published = await self.publish_pending()
                backoff = self._poll_interval_s
                if published:
                    continue
                wait = self._idle_poll_s if self.listening else self._poll_interval_s
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError, TimeoutError) as exc:
                OUTBOX_FAILURES.labels(self._metric_label).inc()
                log.warning("outbox relay cannot publish yet: %s", exc)
                await self._close_producer()
                backoff = wait = min(backoff * 2, 5.0)
            except Exception:
                OUTBOX_FAILURES.labels(self._metric_label).inc()
                log.exception("outbox relay failed; retrying")
                backoff = wait = min(backoff * 2, 5.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def publish_pending(self) -> int:
        """Publish one batch of pending events; return how many were published."""
        async with self._sessionmaker() as session, session.begin():
            locked = await session.scalar(select(func.pg_try_advisory_xact_lock(_RELAY_LOCK_KEY)))
            if not locked:
                # Another replica publishes, and its gauge carries the backlog.
                OUTBOX_OLDEST_PENDING.labels(self._metric_label).set(0)
                return 0
            rows = (
                await session.execute(
                    select(
                        self._outbox.c.id,
                        self._outbox.c.topic,
                        self._outbox.c.key,
                        self._outbox.c.type,
                        self._outbox.c.envelope,
                        self._outbox.c.created_at,
                    )
                    .where(self._outbox.c.published_at.is_(None))
                    .order_by(self._outbox.c.id)
                    .limit(self._batch_size)
                )
            ).all()
            # Set before publishing, so a broker that refuses leaves the age growing.
            OUTBOX_OLDEST_PENDING.labels(self._metric_label).set(
                rows[0].created_at.timestamp() if rows else 0
            )
            if not rows:
                return 0
            producer = await self._ensure_producer()
            futures = []
            for row in rows:
                correlation = (row.envelope.get("correlation_id") or "").encode()
                futures.append(
                    await producer.send(
                        namespaced(self._namespace, row.topic),
                        value=json.dumps(row.envelope, separators=(",", ":")).encode(),
                        key=row.key.encode(),
                        headers=[
                            (CORRELATION_HEADER, correlation),
                            (EVENT_TYPE_HEADER, row.type.encode()),
                        ],
                    )
                )
            await asyncio.wait_for(asyncio.gather(*futures), timeout=15)
            await session.execute(
                update(self._outbox)
                .where(self._outbox.c.id.in_([r.id for r in rows]))
                .values(published_at=datetime.now(UTC))
            )
        self.published_total += len(rows)
        OUTBOX_PUBLISHED.labels(self._metric_label).inc(len(rows))
        return len(rows)
