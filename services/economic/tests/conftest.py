"""The economic service against real PostgreSQL, with the energy service's
internal API served by a loopback HTTP server speaking its contract (the
energy route is built beside this service; see the report).

The settlement worker runs in the app with its own sessions, so these tests
commit for real; each test builds its own community with fresh random ids.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiohttp import web
from cerc_shared import testing as kit
from cerc_shared.events import Event, EventEnvelope
from cerc_shared.events.cer import (
    CommunityCreated,
    MembershipEnded,
    MembershipStarted,
    PlantRegistered,
    SharesPeriod,
)
from economic_service.main import create_app
from economic_service.models import ZonalPrice, registry
from economic_service.settings import EconomicSettings
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

SERVICE_DIR = Path(__file__).resolve().parents[1]
TOKENS = kit.TestTokens("economic-tests")
ITALY = ZoneInfo("Europe/Rome")
_ids = itertools.count(random.randrange(10**8, 9 * 10**8, 10**4))


def new_id() -> int:
    return next(_ids)


class EnergyStandIn:
    """``GET /internal/energy/pod-hours/`` (the energy service) and
    ``GET /internal/cer/communities/{id}/payees/`` (the CER service) on a loopback
    port, answering what a test set."""

    def __init__(self) -> None:
        self.months: dict[tuple[int, str], dict[str, Any]] = {}
        self.payees: dict[int, list[dict[str, Any]]] = {}
        self.calls = 0

    async def handle_payees(self, request: web.Request) -> web.Response:
        community_id = int(request.match_info["community_id"])
        if community_id not in self.payees:
            return web.json_response({"success": False, "errors": []}, status=404)
        return web.json_response({"success": True, "data": self.payees[community_id]})

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        key = (int(request.query["community_id"]), request.query["month"])
        data = self.months.get(key, {"pods": [], "official_complete": False})
        return web.json_response({"success": True, "data": {**data, "community_id": key[0]}})


@pytest.fixture(scope="session")
async def energy() -> AsyncIterator[tuple[EnergyStandIn, int]]:
    stand_in = EnergyStandIn()
    app = web.Application()
    app.router.add_get("/internal/energy/pod-hours/", stand_in.handle)
    app.router.add_get("/internal/cer/communities/{community_id}/payees/", stand_in.handle_payees)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield stand_in, port
    finally:
        await runner.cleanup()


@pytest.fixture(scope="session")
def settings(energy: tuple[EnergyStandIn, int]) -> EconomicSettings:
    dsn = kit.prepare_database("economic", "cerc_test_economic", SERVICE_DIR)
    return EconomicSettings(
        database_url=dsn,
        environment="test",
        **kit.bus_principal("economic"),
        energy_url=f"http://127.0.0.1:{energy[1]}",
        cer_url=f"http://127.0.0.1:{energy[1]}",
        consume_read_models=False,
        gse_sync=False,  # test_gse.py runs its own worker against the GSE simulator
        settle_poll_interval_s=0.1,
    )


@pytest.fixture(scope="session")
async def app(settings: EconomicSettings) -> AsyncIterator[FastAPI]:
    async with kit.running_app(create_app(settings), settings, TOKENS) as application:
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with kit.asgi_client(app, "http://economic") as http:
        yield http


@pytest.fixture
def maker(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    made: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return made


def auth(user_id: int, user_type: str = "PRIVATE") -> dict[str, str]:
    return TOKENS.headers(user_id, user_type)


def hours_of(period_start: date, period_end: date) -> list[datetime]:
    """Every local market hour of [start, end), as aware instants (UTC)."""
    first = datetime(period_start.year, period_start.month, period_start.day, tzinfo=ITALY)
    last = datetime(period_end.year, period_end.month, period_end.day, tzinfo=ITALY)
    out, at = [], first.astimezone(UTC)
    while at < last.astimezone(UTC):
        out.append(at)
        at += timedelta(hours=1)
    return out


class Community:
    """One community built through the registry's events, its energy and prices."""

    def __init__(self, maker: async_sessionmaker[AsyncSession], stand_in: EnergyStandIn) -> None:
        self.maker = maker
        self.stand_in = stand_in
        self.id = new_id()
        self.admin = new_id()
        self.plants: list[dict[str, Any]] = []
        self.memberships: list[dict[str, Any]] = []

    async def deliver(self, *events: Event) -> None:
        async with self.maker() as session, session.begin():
            for event in events:
                await registry.apply(
                    session, EventEnvelope.wrap(event, producer="cer", correlation_id=None)
                )

    async def create(self, shares: tuple[str, str, str] = ("45", "30", "25")) -> None:
        await self.deliver(
            CommunityCreated(
                community_id=self.id,
                code=f"CER{self.id}",
                name=f"CER {self.id}",
                market_zone="NORD",
                is_active=True,
                distribution_shares=[
                    SharesPeriod(
                        valid_from=date(2024, 1, 1),
                        producers_pct=Decimal(shares[0]),
                        consumers_pct=Decimal(shares[1]),
                        community_fund_pct=Decimal(shares[2]),
                    )
                ],
            )
        )
        await self.member(self.admin, role="ADMIN")

    async def member(
        self,
        user_id: int,
        *,
        role: str = "MEMBER",
        member_type: str = "PRIVATE",
        body_type: str = "NONE",
        valid_from: date = date(2024, 1, 1),
        valid_to: date | None = None,
    ) -> None:
        facts: dict[str, Any] = {
            "membership_id": new_id(),
            "community_id": self.id,
            "user_id": user_id,
            "role": role,
            "member_type": member_type,
            "body_type": body_type,
            "valid_from": valid_from,
            "valid_to": None,
        }
        await self.deliver(MembershipStarted(**facts))
        if valid_to is not None:
            await self.deliver(MembershipEnded(**{**facts, "valid_to": valid_to}))
        self.memberships.append({**facts, "valid_to": valid_to})

    async def plant(
        self,
        owner: int,
        plant_type: str,
        *,
        power_kw: str = "50",
        entry: date = date(2024, 5, 1),
        substation: str = "AC001E00001",
    ) -> str:
        plant_id = new_id()
        pod = f"IT001E{plant_id % 10**8:08d}"
        facts = {
            "plant_id": plant_id,
            "pod": pod,
            "name": f"Impianto {plant_id}",
            "community_id": self.id,
            "owner_user_id": owner,
            "plant_type": plant_type,
            "nominal_power_kw": Decimal(power_kw),
            "technology": "PV",
            "entry_into_service": entry,
            "region": "Lombardia",
            "primary_substation": substation,
            "market_zone": "NORD",
            "capital_grant_eur_per_kw": Decimal(0),
            "connection_voltage": "BT",
            "valid_from": date(2024, 1, 1),
            "valid_to": None,
        }
        await self.deliver(PlantRegistered(**facts))
        self.plants.append(facts)
        return pod

    def set_energy(
        self, month: str, pods: dict[str, list[dict[str, Any]]], official_complete: bool
    ) -> None:
        self.stand_in.months[(self.id, month)] = {
            "month": month,
            "official_complete": official_complete,
            "pods": [{"pod": pod, "hours": hours} for pod, hours in pods.items()],
        }


async def add_prices(maker: async_sessionmaker[AsyncSession], hours: list[datetime]) -> None:
    """NORD prices for these hours (idempotent: several tests share the month)."""
    from sqlalchemy.dialects.postgresql import insert

    async with maker() as session, session.begin():
        await session.execute(
            insert(ZonalPrice)
            .values(
                [
                    {
                        "zone": "NORD",
                        "hour_utc": h,
                        "eur_mwh": Decimal(95) + Decimal(h.hour * 3),
                        "source": "test",
                    }
                    for h in hours
                ]
            )
            .on_conflict_do_nothing()
        )
