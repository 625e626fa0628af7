"""The reporting service app: report jobs and their files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cerc_shared.app import create_service_app
from cerc_shared.runtime import service_runtime
from fastapi import FastAPI

from reporting_service.api import reports
from reporting_service.figures import HttpFigures, token_source
from reporting_service.models import processed_events, registry
from reporting_service.service.jobs import ReportJobs
from reporting_service.settings import ReportingSettings
from reporting_service.storage import store_from_settings


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or ReportingSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_runtime(app, settings) as runtime:
            app.state.settings = settings
            runtime.consumer(
                "reporting.read-models",
                registry.topics,
                registry.apply,
                processed_events,
                start=settings.consume_read_models,
            )
            figures = HttpFigures.from_settings(settings, token_source(settings))
            runtime.on_close(figures.close)
            app.state.report_store = store_from_settings(settings)
            jobs = ReportJobs(
                runtime.sessionmaker,
                figures,
                app.state.report_store,
                settings.report_poll_interval_s,
            )
            runtime.add(jobs, name="report_jobs", start=settings.report_jobs)
            yield

    return create_service_app(
        service=settings.service_name,
        title="CerCollettiva reporting service",
        version="1.0.0",
        description="Monthly community reports, member statements and annual reports "
        "as PDF, CSV and XLSX, made as jobs.",
        lifespan=lifespan,
        routers=[reports.router],
    )


def app() -> FastAPI:
    """Factory for `uvicorn --factory reporting_service.main:app`."""
    return create_app()
