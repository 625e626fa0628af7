"""A service's lifespan: what every service starts and stops, written once.

:func:`service_runtime` opens the service's engine and sessions, registers
the database's readiness check, sets the token verifier, starts the outbox
relay and the user-status cache (deactivated users' tokens refused, see
:mod:`cerc_shared.user_status`), and yields a :class:`Runtime` on which the service wires the rest
(its consumers and background workers, its own context on ``app.state``).
Leaving it stops every worker in reverse order of start, runs the service's
closers, and disposes of the engine. A service's ``main.py``::

    def create_app(settings: MySettings | None = None) -> FastAPI:
        settings = settings or MySettings()

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            async with service_runtime(app, settings, outbox=outbox) as runtime:
                runtime.consumer("my-read-model", registry.topics, registry.apply, processed_events)
                yield

        return create_service_app(service=settings.service_name, title="...", version="1.0.0",
                                  description="...", lifespan=lifespan, routers=[api.router])
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg
from fastapi import FastAPI
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cerc_shared import db
from cerc_shared.auth import TokenVerifier, jwks_verifier
from cerc_shared.consumer import Handler, IdempotentConsumer
from cerc_shared.logging import configure_logging
from cerc_shared.outbox import OutboxRelay
from cerc_shared.settings import ServiceSettings
from cerc_shared.user_status import UserStatusCache
from cerc_shared.worker import Worker

W = TypeVar("W", bound=Worker)


@dataclass
class Runtime:
    """What a running service holds; also on ``app.state`` under the names the tests use."""

    app: FastAPI
    settings: ServiceSettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    relay: OutboxRelay | None = None
    read_pool: asyncpg.Pool | None = None
    user_status: UserStatusCache | None = None
    workers: list[Worker] = field(default_factory=list)
    _closers: list[Callable[[], Awaitable[object]]] = field(default_factory=list)

    def add(self, worker: W, *, name: str | None = None, start: bool = True) -> W:
        """Own ``worker`` (stopped with the service), put it on ``app.state.<name>``
        and start it unless told not to (a worker a setting turns off is still
        built, so its state can be read)."""
        self.workers.append(worker)
        if name is not None:
            setattr(self.app.state, name, worker)
        if start:
            worker.start()
        return worker

    def consumer(
        self,
        name: str,
        topics: Iterable[str],
        handler: Handler,
        processed: Table,
        *,
        state: str = "read_model_consumer",
        start: bool = True,
    ) -> IdempotentConsumer:
        """An idempotent consumer of ``topics`` on the service's broker and namespace."""
        return self.add(
            IdempotentConsumer(
                name=name,
                topics=topics,
                bootstrap=self.settings.kafka_bootstrap,
                sessionmaker=self.sessionmaker,
                processed=processed,
                handler=handler,
                namespace=self.settings.kafka_namespace,
                security=self.settings.kafka_client_options(),
            ),
            name=state,
            start=start,
        )

    def on_close(self, closer: Callable[[], Awaitable[object]]) -> None:
        """Run ``closer`` when the service stops, after its workers."""
        self._closers.append(closer)


@asynccontextmanager
async def service_runtime(
    app: FastAPI,
    settings: ServiceSettings,
    *,
    outbox: Table | None = None,
    read_pool: bool = False,
    token_verifier: TokenVerifier | None = None,
) -> AsyncIterator[Runtime]:
    """The service's common lifespan (see the module's docstring).

    ``outbox``: its table, to start a relay for it (``app.state.outbox_relay``);
    ``read_pool``: open an asyncpg pool for hot reads (``app.state.read_pool``);
    ``token_verifier``: how requests' tokens are checked (the user service's own
    key); by default the user service's JWKS."""
    configure_logging(settings.service_name, settings.log_level)
    engine = db.create_engine(settings)
    runtime = Runtime(app, settings, engine, db.create_sessionmaker(engine))
    app.state.sessionmaker = runtime.sessionmaker
    app.state.token_verifier = token_verifier or jwks_verifier(settings)
    app.state.readiness_checks["database"] = lambda: db.ping(engine)
    try:
        if read_pool:
            runtime.read_pool = app.state.read_pool = await db.create_read_pool(settings)
        if outbox is not None:
            runtime.relay = runtime.add(
                OutboxRelay.from_settings(settings, runtime.sessionmaker, outbox),
                name="outbox_relay",
            )
        # Every service refuses a deactivated user's still-valid token; it is
        # ready once it has read user.v1 to the end seen at start.
        runtime.user_status = runtime.add(
            UserStatusCache.from_settings(settings), name="user_status"
        )
        app.state.readiness_checks["user_status"] = runtime.user_status.ready
        yield runtime
    finally:
        for worker in reversed(runtime.workers):
            await worker.stop()
        for closer in reversed(runtime._closers):
            await closer()
        if runtime.read_pool is not None:
            await runtime.read_pool.close()
        await engine.dispose()
