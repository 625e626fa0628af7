"""The energy service app: ingestion of readings into InfluxDB, the
measurements API, and the plant/membership read models it authorises from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from cerc_shared import db
from cerc_shared import user_status as cerc_user_status
from cerc_shared.app import create_service_app
from cerc_shared.auth import jwks_verifier
from cerc_shared.consumer import IdempotentConsumer
from cerc_shared.logging import configure_logging
from cerc_shared.outbox import OutboxRelay
from fastapi import FastAPI

from energy_service.api import aggregations, completeness, imports, live, measurements
from energy_service.events import READ_MODEL_TOPICS, handle_read_model_event
from energy_service.ingest import MeasurementIngestor
from energy_service.live import DirectoryRefresher, LiveTally, PlantDirectory
from energy_service.models import outbox, processed_events
from energy_service.retention import Retention, RetentionPlan
from energy_service.settings import EnergySettings
from energy_service.timeseries import InfluxTimeSeries


@dataclass(frozen=True)
class LiveSettings:
    keepalive_s: float
    min_interval_s: float


def create_app(settings: EnergySettings | None = None) -> FastAPI:
    settings = settings or EnergySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        engine = db.create_engine(settings)
        sessionmaker = db.create_sessionmaker(engine)
        store = InfluxTimeSeries(
            settings.influx_url,
            settings.influx_token,
            settings.influx_org,
            settings.bucket,
            timeout_s=settings.influx_timeout_s,
        )
        if settings.influx_ensure_bucket:
            await store.ensure_bucket()
        if settings.retention_setup:
            await Retention(settings.influx_url, settings.influx_token, settings.bucket).apply(
                RetentionPlan(settings.influx_raw_retention, settings.influx_settlement_retention)
            )
        app.state.sessionmaker = sessionmaker
        app.state.timeseries = store
        app.state.token_verifier = jwks_verifier(settings)
        relay = OutboxRelay.from_settings(settings, sessionmaker, outbox)
        app.state.outbox_relay = relay
        live_tally = LiveTally(PlantDirectory())
        app.state.live_tally = live_tally
        app.state.live_settings = LiveSettings(
            settings.live_keepalive_s, settings.live_min_interval_s
        )
        directory = DirectoryRefresher(
            sessionmaker, live_tally.directory, settings.live_directory_refresh_s
        )
        ingestor = MeasurementIngestor(
            store=store,
            bootstrap=settings.kafka_bootstrap,
            group_id=settings.topic(settings.consumer_group("ingest")),
            topics=[
                settings.topic(t.strip()) for t in settings.ingest_topics.split(",") if t.strip()
            ],
            max_records=settings.ingest_max_records,
            poll_timeout_ms=settings.ingest_poll_timeout_ms,
            chunk_points=settings.ingest_write_chunk_points,
            fetch_min_bytes=settings.ingest_fetch_min_bytes,
            fetch_max_wait_ms=settings.ingest_fetch_max_wait_ms,
            on_stored=live_tally.add,
        )
        app.state.ingestor = ingestor
        read_models = IdempotentConsumer(
            name=settings.consumer_group("read-models"),
            topics=READ_MODEL_TOPICS,
            bootstrap=settings.kafka_bootstrap,
            sessionmaker=sessionmaker,
            processed=processed_events,
            handler=handle_read_model_event,
            namespace=settings.kafka_namespace,
        )
        app.state.read_model_consumer = read_models
        app.state.readiness_checks["database"] = lambda: db.ping(engine)
        app.state.readiness_checks["timeseries"] = store.ping
        relay.start()
        user_status = cerc_user_status.install(app, settings)
        if settings.ingest:
            directory.start()
            ingestor.start()
        if settings.consume_read_models:
            read_models.start()
        try:
            yield
        finally:
            await user_status.stop()
            await read_models.stop()
            await ingestor.stop()
            await directory.stop()
            await relay.stop()
            await store.close()
            await engine.dispose()

    return create_service_app(
        service=settings.service_name,
        title="CerCollettiva energy service",
        version="1.0.0",
        description=(
            "Meter readings (IoT estimates, manual and official figures) stored in InfluxDB, "
            "read raw or as energy per 15min/hour/day/month in Italian local time."
        ),
        lifespan=lifespan,
        routers=[
            measurements.energy_router,
            measurements.plants_router,
            imports.router,
            aggregations.router,
            completeness.router,
            live.router,
        ],
    )


def app() -> FastAPI:
    """Factory for `uvicorn --factory energy_service.main:app`."""
    return create_app()
