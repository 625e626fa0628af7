"""The IoT service app: device registry, MQTT credentials, status, commands.

The MQTT bridge runs as its own process (``python -m iot_service.bridge``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cerc_shared.app import create_service_app
from cerc_shared.runtime import service_runtime
from fastapi import FastAPI

from iot_service.api import devices
from iot_service.detector import OfflineDetector
from iot_service.models import outbox, processed_events, registry
from iot_service.mqtt.dynsec import DynSec, DynSecError
from iot_service.mqtt.publisher import CommandPublisher
from iot_service.service import IotContext, cer_event_handler
from iot_service.settings import IotSettings
from iot_service.stay_ends import StayEndRevoker

log = logging.getLogger(__name__)


def create_app(settings: IotSettings | None = None) -> FastAPI:
    settings = settings or IotSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_runtime(app, settings, outbox=outbox) as runtime:
            context = app.state.iot_context = IotContext(
                settings=settings,
                dynsec=DynSec(
                    settings.mqtt_host,
                    settings.mqtt_port,
                    settings.mqtt_admin_username,
                    settings.mqtt_admin_password,
                    settings.mqtt_timeout_s,
                ),
                publish=CommandPublisher(settings),
            )
            try:
                await context.dynsec.ensure_bridge_account(
                    username=settings.mqtt_bridge_username, password=settings.mqtt_bridge_password
                )
                await context.dynsec.ensure_commands_account(
                    username=settings.mqtt_commands_username,
                    password=settings.mqtt_commands_password,
                )
            except DynSecError as exc:
                # Not fatal: the broker may come later; provisioning reports it then.
                log.warning("could not ensure the MQTT bridge and command accounts: %s", exc)
            runtime.consumer(
                "iot-read-model",
                registry.topics,
                cer_event_handler(context.dynsec),
                processed_events,
            )
            detector = OfflineDetector(
                runtime.sessionmaker,
                after_intervals=settings.offline_after_intervals,
                every_s=settings.offline_check_interval_s,
            )
            runtime.add(detector, name="offline_detector")
            runtime.add(
                StayEndRevoker(
                    runtime.sessionmaker,
                    context.dynsec,
                    every_s=settings.stay_end_check_interval_s,
                ),
                name="stay_end_revoker",
            )
            yield

    return create_service_app(
        service=settings.service_name,
        title="CerCollettiva IoT service",
        version="1.0.0",
        description="Device registry, per-device MQTT credentials, device status, commands.",
        lifespan=lifespan,
        routers=[devices.router],
    )


def app() -> FastAPI:
    """Factory for `uvicorn --factory iot_service.main:app`."""
    return create_app()
