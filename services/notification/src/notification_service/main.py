"""The notification service app: the fleet's events in, mails and an inbox out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial

from cerc_shared.app import create_service_app
from cerc_shared.runtime import service_runtime
from fastapi import FastAPI

from notification_service.api import notifications
from notification_service.delivery import DeliveryWorker
from notification_service.models import processed_events
from notification_service.rules import TOPICS
from notification_service.service import handle_event
from notification_service.settings import NotificationSettings


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    settings = settings or NotificationSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        async with service_runtime(app, settings) as runtime:
            handler = partial(
                handle_event,
                device_offline_threshold=timedelta(seconds=settings.device_offline_threshold_s),
                digest_after=settings.digest_after,
            )
            runtime.consumer(
                settings.consumer_group("events"),
                TOPICS,
                handler,
                processed_events,
                start=settings.consume_events,
            )
            delivery = DeliveryWorker(settings, runtime.sessionmaker)
            runtime.add(delivery, name="delivery", start=settings.deliver)
            yield

    return create_service_app(
        service=settings.service_name,
        title="CerCollettiva notification service",
        version="1.0.0",
        description="Who is told what: e-mails over SMTP and the in-app inbox, per preference.",
        lifespan=lifespan,
        routers=[notifications.router],
    )


def app() -> FastAPI:
    """Factory for `uvicorn --factory notification_service.main:app`."""
    return create_app()
