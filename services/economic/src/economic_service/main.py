"""The economic service app: settlement runs, the books, members' benefits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cerc_shared.app import create_service_app
from cerc_shared.crypto import FieldCipher
from cerc_shared.runtime import service_runtime
from fastapi import FastAPI

from economic_service.api import (
    books,
    distribution,
    internal_reports,
    parameters,
    payouts,
    prices,
    run_hours,
    settlements,
    simulations,
)
from economic_service.api import gse as gse_api
from economic_service.api import reconciliation as reconciliation_api
from economic_service.energy import EnergyClient
from economic_service.models import outbox, processed_events, registry
from economic_service.payees import PayeesClient
from economic_service.service.gse.schedule import GseWorker
from economic_service.service.jobs import SettlementJobs
from economic_service.settings import EconomicSettings
from economic_service.tokens import client_tokens


def create_app(settings: EconomicSettings | None = None) -> FastAPI:
    settings = settings or EconomicSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_runtime(app, settings, outbox=outbox) as runtime:
            app.state.settings = settings
            runtime.consumer(
                "economic.read-models",
                registry.topics,
                registry.apply,
                processed_events,
                start=settings.consume_read_models,
            )
            tokens = client_tokens(settings)
            app.state.client_tokens = tokens
            app.state.payees = PayeesClient(settings, tokens)
            # One energy client (one connection pool) for the settlement jobs and the GSE sync.
            energy = EnergyClient(settings, tokens)
            jobs = SettlementJobs(runtime.sessionmaker, settings, energy)
            runtime.add(jobs, name="settlement_jobs", start=settings.settle_jobs)
            cipher = FieldCipher.from_setting(settings.data_keys, settings.data_key_current)
            app.state.field_cipher = cipher
            gse = GseWorker(runtime.sessionmaker, settings, cipher, energy=energy)
            runtime.add(gse, name="gse_worker", start=settings.gse_sync)
            yield

    return create_service_app(
        service=settings.service_name,
        title="CerCollettiva economic service",
        version="1.0.0",
        description="Settlement runs of a community month, the books, members' benefits.",
        lifespan=lifespan,
        routers=[
            settlements.router,
            books.router,
            internal_reports.router,
            payouts.router,
            distribution.router,
            prices.router,
            parameters.router,
            run_hours.router,
            simulations.router,
            gse_api.router,
            reconciliation_api.router,
        ],
    )


def app() -> FastAPI:
    """Factory for `uvicorn --factory economic_service.main:app`."""
    return create_app()
