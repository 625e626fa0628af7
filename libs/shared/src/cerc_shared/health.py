"""Liveness, readiness and Prometheus metrics for every service.

``/healthz`` says the process is alive; ``/readyz`` runs the service's own
dependency checks (its database, its broker...) and answers 503 naming the
ones that fail; ``/metrics`` exposes request counts and latencies by route.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cerc_shared.logging import CORRELATION_HEADER, new_correlation_id, set_correlation_id

ReadinessCheck = Callable[[], Awaitable[object]]

REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, ReadinessCheck] = getattr(request.app.state, "readiness_checks", {})
    results: dict[str, str] = {}

    async def run(name: str, check: ReadinessCheck) -> None:
        try:
            await asyncio.wait_for(check(), timeout=3)
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"failed: {type(exc).__name__}"

    await asyncio.gather(*(run(n, c) for n, c in checks.items()))
    ready = all(v == "ok" for v in results.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": results},
        status_code=200 if ready else 503,
    )


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class RequestContextMiddleware:
    """Correlation id in, correlation id out, and one latency sample per request."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation = None
        for name, value in scope.get("headers", ()):
            if name == CORRELATION_HEADER.encode():
                correlation = value.decode("latin-1")[:128]
                break
        correlation = correlation or new_correlation_id()
        set_correlation_id(correlation)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (CORRELATION_HEADER.encode(), correlation.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            LATENCY.labels(self.service, method, path).observe(time.perf_counter() - started)
            REQUESTS.labels(self.service, method, path, str(status)).inc()
