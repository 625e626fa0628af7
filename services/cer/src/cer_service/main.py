"""The CER service app: communities, members, plants, documents, audit; the
outbox relay to Kafka and the consumer that keeps the users' read model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cerc_shared.app import create_service_app
from cerc_shared.crypto import FieldCipher
from cerc_shared.runtime import service_runtime
from fastapi import FastAPI

from cer_service.api import communities, internal, invitations, plants
from cer_service.api.cached import CachedReads
from cer_service.models import outbox, processed_events
from cer_service.read_cache import ReadCache
from cer_service.registry_watch import RegistryWatch
from cer_service.service import CerContext
from cer_service.settings import CerSettings
from cer_service.storage import LocalFolderStorage
from cer_service.user_events import on_user_event


def create_app(settings: CerSettings | None = None) -> FastAPI:
    settings = settings or CerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_runtime(app, settings, outbox=outbox, read_pool=True) as runtime:
            assert runtime.read_pool is not None
            watch = RegistryWatch(
                settings.database_dsn, runtime.read_pool, max_stamps=settings.registry_watch_stamps
            )
            app.state.cer_context = CerContext(
                settings=settings,
                cipher=FieldCipher.from_setting(settings.data_keys, settings.data_key_current),
                storage=LocalFolderStorage(settings.storage_dir),
                reads=ReadCache(settings.read_cache_bytes),
                watch=watch,
            )
            runtime.add(watch)
            runtime.consumer(
                settings.consumer_group,
                ["user.v1"],
                on_user_event,
                processed_events,
                state="users_consumer",
                start=settings.consume_users,
            )
            yield

    return create_service_app(
        service=settings.service_name,
        title="CerCollettiva CER service",
        version="1.0.0",
        description="Communities, members and plants (PODs, substations), statutes, audit.",
        lifespan=lifespan,
        routers=[invitations.router, communities.router, plants.router, internal.router],
        inner_middleware=[CachedReads],
    )


def app() -> FastAPI:
    """Factory for `uvicorn --factory cer_service.main:app`."""
    return create_app()
