"""The app factory every service builds on: envelope errors, correlation ids,
metrics and health routes wired the same way everywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI

from cerc_shared import health
from cerc_shared.envelope import install_error_handlers

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service_app(
    *,
    service: str,
    title: str,
    version: str,
    lifespan: Lifespan | Callable[[FastAPI], AsyncIterator[None]],
    routers: Sequence[APIRouter],
    description: str = "",
    inner_middleware: Sequence[type[Any]] = (),
) -> FastAPI:
    """``inner_middleware`` runs inside the correlation id, metrics and access
    log (a service's own shortcuts are measured and logged like any request)."""
    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,  # type: ignore[arg-type]
    )
    app.state.readiness_checks = {}
    install_error_handlers(app)
    for middleware in reversed(inner_middleware):  # each add wraps the ones before
        app.add_middleware(middleware)
    app.add_middleware(health.RequestContextMiddleware, service=service)
    app.include_router(health.router)
    for router in routers:
        app.include_router(router)
    return app
