"""The CER service app: communities, members, plants, documents, audit; the
outbox relay to Kafka and the consumer that keeps the users' read model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cerc_shared import db
from cerc_shared import user_status as cerc_user_status
from cerc_shared.app import create_service_app
from cerc_shared.auth import jwks_verifier
from cerc_shared.consumer import IdempotentConsumer
from cerc_shared.crypto import FieldCipher
from cerc_shared.logging import configure_logging
from cerc_shared.outbox import OutboxRelay
from fastapi import FastAPI

from cer_service.api import communities, plants
from cer_service.api.cached import CachedReads
from cer_service.events import on_user_event
from cer_service.models import outbox, processed_events
from cer_service.read_cache import ReadCache
from cer_service.registry_watch import RegistryWatch
from cer_service.service import CerContext
from cer_service.settings import CerSettings
from cer_service.storage import LocalFolderStorage


def create_app(settings: CerSettings | None = None) -> FastAPI:
    settings = settings or CerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        engine = db.create_engine(settings)
        sessionmaker = db.create_sessionmaker(engine)
        app.state.sessionmaker = sessionmaker
        app.state.read_pool = await db.create_read_pool(settings)
        watch = RegistryWatch(
            settings.database_dsn, app.state.read_pool, max_stamps=settings.registry_watch_stamps
        )
        app.state.cer_context = CerContext(
            settings=settings,
            cipher=FieldCipher.from_setting(settings.data_keys, settings.data_key_current),
            storage=LocalFolderStorage(settings.storage_dir),
            reads=ReadCache(settings.read_cache_bytes),
            watch=watch,
        )
        app.state.token_verifier = jwks_verifier(settings)
        relay = OutboxRelay.from_settings(settings, sessionmaker, outbox)
        users = IdempotentConsumer(
            name=settings.consumer_group,
            topics=["user.v1"],
            bootstrap=settings.kafka_bootstrap,
            sessionmaker=sessionmaker,
            processed=processed_events,
            handler=on_user_event,
            namespace=settings.kafka_namespace,
        )
        app.state.outbox_relay = relay
        app.state.users_consumer = users
        app.state.readiness_checks["database"] = lambda: db.ping(engine)
        relay.start()
        watch.start()
        user_status = cerc_user_status.install(app, settings)
        if settings.consume_users:
            users.start()
        try:
            yield
        finally:
            await user_status.stop()
            await users.stop()
            await watch.stop()
            await relay.stop()
            await app.state.read_pool.close()
            await engine.dispose()

    return create_service_app(
        service=settings.service_name,
        title="CerCollettiva CER service",
        version="1.0.0",
        description="Communities, members and plants (PODs, substations), statutes, audit.",
        lifespan=lifespan,
        routers=[communities.router, plants.router],
        inner_middleware=[CachedReads],
    )


def app() -> FastAPI:
    """Factory for `uvicorn --factory cer_service.main:app`."""
    return create_app()
