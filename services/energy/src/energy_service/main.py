"""The energy service app: ingestion of readings into InfluxDB, the
measurements API, and the plant/membership read models it authorises from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cerc_shared.app import create_service_app
from cerc_shared.runtime import service_runtime
from fastapi import FastAPI

from energy_service.api import (
    aggregations,
    completeness,
    imports,
    internal,
    internal_reports,
    live,
    measurements,
    predictions,
)
from energy_service.api.shortcut import DashboardShortcut
from energy_service.events import READ_MODEL_TOPICS, read_model_handler
from energy_service.hourly.reads import CommunityPerimeter, CommunityReads, KeptAnswers
from energy_service.hourly.service import CommunityHoursWorker, DirtyMarker
from energy_service.imports.jobs import ImportJobs
from energy_service.ingest import MEASUREMENT_TOPIC, MeasurementIngestor
from energy_service.live import DirectoryRefresher, LiveSettings, LiveTally, PlantDirectory
from energy_service.live_feed import LiveFeed
from energy_service.models import outbox, processed_events
from energy_service.retention import SETTLEMENT_POLICY, Retention, RetentionPlan, duration
from energy_service.scope_cache import ScopeCache
from energy_service.service import ReadingScope
from energy_service.settings import EnergySettings
from energy_service.timeseries import InfluxTimeSeries


def create_app(settings: EnergySettings | None = None) -> FastAPI:
    settings = settings or EnergySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_runtime(app, settings, outbox=outbox, read_pool=True) as runtime:
            store = app.state.timeseries = InfluxTimeSeries(
                settings.influx_url,
                settings.influx_token,
                settings.influx_org,
                settings.bucket,
                timeout_s=settings.influx_timeout_s,
                # The quarter-hour series exists where the service sets retention up.
                settlement_policy=SETTLEMENT_POLICY if settings.retention_setup else None,
                raw_retention=duration(settings.influx_raw_retention),
            )
            runtime.on_close(store.close)
            runtime.add(
                CommunityHoursWorker(
                    runtime.sessionmaker,
                    store,
                    period_s=settings.community_hours_period_s,
                    months_back=settings.community_hours_months,
                ),
                name="community_hours",
                start=settings.community_hours,
            )
            if settings.influx_ensure_bucket:
                await store.ensure_bucket()
            if settings.retention_setup:
                await Retention(settings.influx_url, settings.influx_token, settings.bucket).apply(
                    RetentionPlan(
                        settings.influx_raw_retention, settings.influx_settlement_retention
                    )
                )
            app.state.readiness_checks["timeseries"] = store.ping
            # The plant-hours written are marked for the hourly sums: by the store
            # after each write (imports), by the ingestion off its write path.
            marker = store.on_written = DirtyMarker(runtime.sessionmaker)
            # Live shared energy: every replica's tally reads every partition of
            # measurement.v1 itself, from the day's start (live_feed.py); its
            # plants come from the registry read model.
            live_tally = app.state.live_tally = LiveTally(PlantDirectory())
            app.state.live_settings = LiveSettings(
                settings.live_keepalive_s, settings.live_min_interval_s
            )
            directory = DirectoryRefresher(
                runtime.sessionmaker, live_tally.directory, settings.live_directory_refresh_s
            )
            runtime.add(directory, name="live_directory", start=settings.live)
            feed = LiveFeed(
                live_tally,
                topic=settings.topic(MEASUREMENT_TOPIC),
                bootstrap=settings.kafka_bootstrap,
                prepare=directory.refresh,
                security=settings.kafka_client_options(),
            )
            runtime.add(feed, name="live_feed", start=settings.live)
            ingestor = MeasurementIngestor(
                store=store,
                bootstrap=settings.kafka_bootstrap,
                group_id=settings.topic(settings.consumer_group("ingest")),
                topics=[
                    settings.topic(t.strip())
                    for t in settings.ingest_topics.split(",")
                    if t.strip()
                ],
                max_records=settings.ingest_max_records,
                poll_timeout_ms=settings.ingest_poll_timeout_ms,
                chunk_points=settings.ingest_write_chunk_points,
                fetch_min_bytes=settings.ingest_fetch_min_bytes,
                fetch_max_wait_ms=settings.ingest_fetch_max_wait_ms,
                security=settings.kafka_client_options(),
                # The ingestion marks the hours itself, off its write path (ingest.py).
                mark=marker,
            )
            runtime.add(ingestor, name="ingestor", start=settings.ingest)
            app.state.import_background_bytes = settings.import_background_bytes
            runtime.add(
                ImportJobs(runtime.sessionmaker, store),
                name="import_jobs",
                start=settings.import_jobs,
            )
            scopes = app.state.reading_scopes = ScopeCache[ReadingScope](
                settings.reading_scope_cache_s
            )
            # Fewer than the scopes: a community's perimeter holds its stays.
            perimeters = ScopeCache[CommunityPerimeter](
                settings.reading_scope_cache_s, max_entries=1000
            )
            scopes.link(perimeters)
            app.state.community_reads = CommunityReads(perimeters, KeptAnswers())
            # A plant's readings over a given span, kept the same way (api/shortcut.py).
            app.state.plant_answers = KeptAnswers()
            runtime.consumer(
                settings.consumer_group("read-models"),
                READ_MODEL_TOPICS,
                read_model_handler(scopes),
                processed_events,
                start=settings.consume_read_models,
            )
            yield

    return create_service_app(
        service=settings.service_name,
        title="CerCollettiva energy service",
        version="1.0.0",
        description=(
            "Meter readings (IoT estimates, manual and official figures) stored in InfluxDB, "
            "read raw or as energy per 15min/hour/day/month in Italian local time."
        ),
        lifespan=lifespan,
        inner_middleware=[DashboardShortcut],
        routers=[
            measurements.energy_router,
            measurements.plants_router,
            imports.router,
            aggregations.router,
            completeness.router,
            live.router,
            predictions.router,
            internal.router,
            internal_reports.router,
        ],
    )


def app() -> FastAPI:
    """Factory for `uvicorn --factory energy_service.main:app`."""
    return create_app()
