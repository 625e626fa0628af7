"""Which accounts are deactivated, so a service refuses their still-valid tokens.

An access token lives up to its expiry (15 minutes) whatever happens to the
account; the user service announces a deactivation on ``user-status.v1``
(status only: the people's facts on ``user.v1`` are not every service's to
read). Each process keeps the set of deactivated user ids, read from the start
of ``user-status.v1`` without a consumer group (every replica needs every event), and
``cerc_shared.auth`` refuses a principal in it: a deactivated user is shut
out within the outbox-to-Kafka delay, not at the token's expiry.

Only the tokens issued before the deactivation are refused: no token can be
issued to an inactive account (login and refresh refuse it), so a newer one
means the account was active again when it was issued - and a status older
than every token (an id reused after a test database was recreated over the
same topic) refuses nobody it should not.

The cache is a kernel :class:`~cerc_shared.worker.Worker` that
:func:`cerc_shared.runtime.service_runtime` starts for every service (on
``app.state.user_status``, with its readiness check). It is not a
:class:`~cerc_shared.kafka.KafkaPollLoop`: it reads without a consumer group
and commits nothing, and a record it cannot read is skipped, not dead-lettered
(the user service's own consumers dead-letter it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from cerc_shared.events import EventEnvelope
from cerc_shared.events.user import UserStatusChanged
from cerc_shared.settings import ServiceSettings
from cerc_shared.worker import Worker

log = logging.getLogger(__name__)


class NotCaughtUp(RuntimeError):
    """The cache has not yet read ``user-status.v1`` to its end."""


class UserStatusCache(Worker):
    def __init__(
        self,
        *,
        bootstrap: str,
        topic: str,
        client_id: str,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__("user-status")
        self._bootstrap = bootstrap
        self._topic = topic
        self._client_id = client_id
        self._security = dict(security or {})
        # user id -> when it was deactivated (seconds since the epoch)
        self._inactive: dict[int, float] = {}
        self._caught_up = asyncio.Event()

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> UserStatusCache:
        return cls(
            bootstrap=settings.kafka_bootstrap,
            topic=settings.topic(UserStatusChanged.topic),
            client_id=f"{settings.service_name}-user-status",
            security=settings.kafka_client_options(),
        )

    def refuses(self, user_id: int, issued_at: float = 0.0) -> bool:
        """Whether a token of ``user_id`` issued at ``issued_at`` (its iat,
        whole seconds) predates the account's deactivation."""
        deactivated_at = self._inactive.get(user_id)
        return deactivated_at is not None and issued_at <= deactivated_at

    def apply(self, envelope: EventEnvelope) -> None:
        status = envelope.data
        if isinstance(status, UserStatusChanged):
            if status.is_active:
                self._inactive.pop(status.user_id, None)
            else:
                self._inactive[status.user_id] = envelope.occurred_at.timestamp()

    async def ready(self) -> None:
        """A readiness check: until the backlog is read, a deactivated user could pass."""
        if not self._caught_up.is_set():
            raise NotCaughtUp(self._topic)

    async def wait_caught_up(self, timeout_s: float) -> None:
        await asyncio.wait_for(self._caught_up.wait(), timeout_s)

    async def _catch_up(
        self, consumer: AIOKafkaConsumer, backlog: dict[TopicPartition, int] | None
    ) -> dict[TopicPartition, int] | None:
        """Mark the cache ready once it has read up to the ends seen at start."""
        assigned = consumer.assignment()
        if not assigned:
            if self._topic not in await consumer.topics():
                self._caught_up.set()  # nothing was ever published
            return backlog
        if backlog is None:
            backlog = await consumer.end_offsets(list(assigned))
        positions = [await consumer.position(tp) >= end for tp, end in backlog.items()]
        if all(positions):
            self._caught_up.set()
        return backlog

    def failed(self, exc: Exception) -> None:
        log.error(
            "user status cache lost Kafka; restarting",
            exc_info=(type(exc), exc, exc.__traceback__),
        )

    async def run(self) -> None:
        # One consumer per run: the worker starts a new one after a failure.
        consumer = AIOKafkaConsumer(
            self._topic,
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            **self._security,
        )
        try:
            await consumer.start()
            backlog: dict[TopicPartition, int] | None = None
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=1000)
                for records in batches.values():
                    for record in records:
                        try:
                            self.apply(EventEnvelope.model_validate_json(record.value or b""))
                        except ValidationError:
                            continue  # the user service's consumers dead-letter it
                if not self._caught_up.is_set():
                    backlog = await self._catch_up(consumer, backlog)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
