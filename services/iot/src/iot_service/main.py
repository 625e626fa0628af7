"""The IoT service app: device registry, MQTT credentials, status, commands.

The MQTT bridge runs as its own process (``python -m iot_service.bridge``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cerc_shared import db
from cerc_shared.app import create_service_app
from cerc_shared.auth import jwks_verifier
from cerc_shared.consumer import IdempotentConsumer
from cerc_shared.logging import configure_logging
from cerc_shared.outbox import OutboxRelay
from fastapi import FastAPI

from iot_service.api import devices
from iot_service.detector import OfflineDetector
from iot_service.models import outbox, processed_events, registry
from iot_service.mqtt.dynsec import DynSec, DynSecError
from iot_service.mqtt.publisher import CommandPublisher
from iot_service.service import IotContext, apply_cer_event
from iot_service.settings import IotSettings

log = logging.getLogger(__name__)


def create_app(settings: IotSettings | None = None) -> FastAPI:
    settings = settings or IotSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        engine = db.create_engine(settings)
        sessionmaker = db.create_sessionmaker(engine)
        app.state.sessionmaker = sessionmaker
        app.state.token_verifier = jwks_verifier(settings)
        app.state.iot_context = IotContext(
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
        relay = OutboxRelay.from_settings(settings, sessionmaker, outbox)
        read_model = IdempotentConsumer(
            name="iot-read-model",
            topics=registry.topics,
            bootstrap=settings.kafka_bootstrap,
            sessionmaker=sessionmaker,
            processed=processed_events,
            handler=apply_cer_event,
            namespace=settings.kafka_namespace,
        )
        detector = OfflineDetector(
            sessionmaker,
            after_intervals=settings.offline_after_intervals,
            every_s=settings.offline_check_interval_s,
        )
        app.state.outbox_relay = relay
        app.state.read_model_consumer = read_model
        app.state.offline_detector = detector
        app.state.readiness_checks["database"] = lambda: db.ping(engine)
        try:
            await app.state.iot_context.dynsec.ensure_bridge_account(
                username=settings.mqtt_bridge_username, password=settings.mqtt_bridge_password
            )
        except DynSecError as exc:
            # Not fatal: the broker may come later; provisioning reports it then.
            log.warning("could not ensure the MQTT bridge account: %s", exc)
        relay.start()
        read_model.start()
        detector.start()
        try:
            yield
        finally:
            await detector.stop()
            await read_model.stop()
            await relay.stop()
            await engine.dispose()

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
