"""The reporting service against real PostgreSQL, with the energy and economic
services' internal routes served by a loopback HTTP server speaking their
contracts. What it answers is a community month settled by the real rules
engine (reporting_service.sample), so the reports are checked against a real
settlement's cents.

The job worker runs in the app with its own sessions, so these tests commit
for real; each builds its own community with fresh random ids.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web
from cerc_shared import testing as kit
from cerc_shared.events import Event, EventEnvelope
from cerc_shared.events.cer import (
    CommunityCreated,
    MembershipStarted,
    PlantRegistered,
    SharesPeriod,
)
from fastapi import FastAPI
from reporting_service.main import create_app
from reporting_service.models import registry
from reporting_service.sample import SampleMonth, sample_month
from reporting_service.settings import ReportingSettings
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

SERVICE_DIR = Path(__file__).resolve().parents[1]
TOKENS = kit.TestTokens("reporting-tests")
SERVICE_TOKEN = "reporting-tests-service-token"
_ids = itertools.count(random.randrange(10**6, 9 * 10**6, 10**3))


def new_id() -> int:
    return next(_ids)


class StandIn:
    """The internal routes of energy and economic, answering what a test set."""

    def __init__(self) -> None:
        self.energy: dict[tuple[int, str], dict[str, Any]] = {}
        self.days: dict[tuple[int, str], list[dict[str, Any]]] = {}
        self.runs: dict[int, list[dict[str, Any]]] = {}
        self.transactions: dict[int, list[dict[str, Any]]] = {}
        self.failing: set[int] = set()
        self.unauthorised = 0
        self.accepted = {f"Bearer {SERVICE_TOKEN}"}
        # The user service's token endpoint (client credentials), for the
        # clients a test registers: id -> secret.
        self.clients: dict[str, str] = {}
        self.issued = 0

    async def serve_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        auth = aiohttp.BasicAuth.decode(request.headers.get("Authorization", ""))
        if (
            form.get("grant_type") != "client_credentials"
            or self.clients.get(auth.login) != auth.password
        ):
            return web.json_response({"error": "invalid_client"}, status=401)
        self.issued += 1
        token = f"issued-{auth.login}-{self.issued}"
        self.accepted.add(f"Bearer {token}")
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": 900, "scope": ""}
        )

    def _checked(self, request: web.Request) -> int:
        if request.headers.get("Authorization") not in self.accepted:
            self.unauthorised += 1
            raise web.HTTPUnauthorized()
        community_id = int(request.query["community_id"])
        if community_id in self.failing:
            raise web.HTTPServiceUnavailable()
        return community_id

    async def serve_pod_hours(self, request: web.Request) -> web.Response:
        community_id = self._checked(request)
        data = self.energy.get(
            (community_id, request.query["month"]),
            {"community_id": community_id, "pods": [], "official_complete": False},
        )
        return web.json_response({"success": True, "data": data})

    async def serve_days(self, request: web.Request) -> web.Response:
        community_id = self._checked(request)
        assert request.query["resolution"] == "day"
        data = self.days.get((community_id, request.query["month"]), [])
        return web.json_response({"success": True, "data": data})

    async def serve_settlements(self, request: web.Request) -> web.Response:
        community_id = self._checked(request)
        period = request.query["period"]
        data = [r for r in self.runs.get(community_id, []) if r["period"].startswith(period)]
        return web.json_response({"success": True, "data": data})

    async def serve_transactions(self, request: web.Request) -> web.Response:
        community_id = self._checked(request)
        year = request.query["year"]
        data = [
            t for t in self.transactions.get(community_id, []) if t["created_at"].startswith(year)
        ]
        return web.json_response({"success": True, "data": data})


@pytest.fixture(scope="session")
async def stand_in() -> AsyncIterator[tuple[StandIn, int]]:
    served = StandIn()
    app = web.Application()
    app.router.add_post("/api/auth/token/", served.serve_token)
    app.router.add_get("/internal/energy/pod-hours/", served.serve_pod_hours)
    app.router.add_get("/internal/energy/aggregations/", served.serve_days)
    app.router.add_get("/internal/economic/reports/settlements/", served.serve_settlements)
    app.router.add_get("/internal/economic/reports/transactions/", served.serve_transactions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield served, port
    finally:
        await runner.cleanup()


@pytest.fixture(scope="session")
def settings(
    stand_in: tuple[StandIn, int], tmp_path_factory: pytest.TempPathFactory
) -> ReportingSettings:
    dsn = kit.prepare_database("reporting", "cerc_test_reporting", SERVICE_DIR)
    url = f"http://127.0.0.1:{stand_in[1]}"
    return ReportingSettings(
        database_url=dsn,
        environment="test",
        energy_url=url,
        economic_url=url,
        service_token=SERVICE_TOKEN,
        storage_dir=str(tmp_path_factory.mktemp("reports")),
        consume_read_models=False,
        report_poll_interval_s=0.1,
    )


@pytest.fixture(scope="session")
async def app(settings: ReportingSettings) -> AsyncIterator[FastAPI]:
    async with kit.running_app(create_app(settings), settings, TOKENS) as application:
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with kit.asgi_client(app, "http://reporting") as http:
        yield http


@pytest.fixture
def maker(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    made: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return made


def auth(user_id: int, user_type: str = "PRIVATE") -> dict[str, str]:
    return TOKENS.headers(user_id, user_type)


class Community:
    """A community whose registry facts reach the read model as events and
    whose month is a real settlement served by the stand-in."""

    def __init__(self, maker: async_sessionmaker[AsyncSession], stand_in: StandIn) -> None:
        self.maker = maker
        self.stand_in = stand_in
        self.id = new_id()
        self.admin = new_id() * 1000
        self.month: SampleMonth | None = None

    async def deliver(self, *events: Event) -> None:
        async with self.maker() as session, session.begin():
            for event in events:
                await registry.apply(
                    session, EventEnvelope.wrap(event, producer="cer", correlation_id=None)
                )

    async def create(self, month: str, members: int = 12) -> SampleMonth:
        sample = sample_month(self.id, month, members, days=6, run_id=new_id())
        self.month = sample
        await self.deliver(
            CommunityCreated(
                community_id=self.id,
                code=sample.ctx.code,
                name=sample.ctx.name,
                market_zone="NORD",
                is_active=True,
                distribution_shares=[
                    SharesPeriod(
                        valid_from=date(2024, 1, 1),
                        producers_pct=Decimal(45),
                        consumers_pct=Decimal(30),
                        community_fund_pct=Decimal(25),
                    )
                ],
            )
        )
        await self.member(self.admin, role="ADMIN")
        for m in sample.ctx.memberships:
            await self.member(m.user_id, member_type=m.member_type or "PRIVATE")
        for stay in sample.ctx.stays:
            await self.deliver(
                PlantRegistered(
                    plant_id=stay.plant_id,
                    pod=stay.pod,
                    name=f"Impianto {stay.plant_id}",
                    community_id=self.id,
                    owner_user_id=stay.owner_user_id,
                    plant_type="PRODUCER" if stay.technology else "CONSUMER",
                    nominal_power_kw=stay.nominal_power_kw or Decimal(0),
                    technology="PV",
                    entry_into_service=stay.entry_into_service or date(2024, 3, 1),
                    region="Lombardia",
                    primary_substation=stay.primary_substation or "",
                    market_zone="NORD",
                    capital_grant_eur_per_kw=Decimal(0),
                    connection_voltage="BT",
                    valid_from=date(2024, 1, 1),
                    valid_to=None,
                )
            )
        self.stand_in.energy[(self.id, month)] = sample.energy_answer
        self.stand_in.days[(self.id, month)] = sample.days_answer
        self.stand_in.runs.setdefault(self.id, []).append(sample.economic_answer)
        return sample

    async def member(
        self, user_id: int, *, role: str = "MEMBER", member_type: str = "PRIVATE"
    ) -> None:
        await self.deliver(
            MembershipStarted(
                membership_id=new_id(),
                community_id=self.id,
                user_id=user_id,
                role=role,
                member_type=member_type,
                body_type="NONE",
                valid_from=date(2024, 1, 1),
                valid_to=None,
            )
        )
