"""The notification service against real PostgreSQL and the local SMTP sink
(tools/smtp_sink, started by `make infra-up`): mails are read back from the
sink by a recipient address unique to each test. Nothing is skipped: a server
that is down fails the tests with the reason.

Events are fed through the service's own idempotent consumer and handler on
sessions that commit (the delivery worker runs its own transactions), with
ids unique to the session; the API calls run in each test's rolled-back
transaction and see those commits.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from cerc_shared import db
from cerc_shared import testing as kit
from cerc_shared.consumer import IdempotentConsumer
from cerc_shared.events import Event, EventEnvelope
from cerc_shared.events.cer import CommunityCreated, MembershipStarted, PlantRegistered
from cerc_shared.events.user import UserRegistered
from cerc_shared.testing import ports, prepare_database
from fastapi import FastAPI
from notification_service.delivery import DeliveryWorker
from notification_service.main import create_app
from notification_service.models import processed_events
from notification_service.service import handle_event
from notification_service.settings import NotificationSettings
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

SERVICE_DIR = Path(__file__).resolve().parents[1]
TOKENS = kit.TestTokens("notification-tests")
SMTP_PORT = int(ports()["SMTP_PORT"])
SMTP_READER = os.environ.get(
    "CERC_SMTP_READER_URL", f"http://127.0.0.1:{ports().get('SMTP_READER_PORT', '12580')}"
)

_ids = itertools.count(random.randrange(10**8, 9 * 10**8, 10**5))


def new_id() -> int:
    return next(_ids)


@pytest.fixture(scope="session")
def settings() -> NotificationSettings:
    dsn = prepare_database("notification", "cerc_test_notification", SERVICE_DIR)
    return NotificationSettings(
        database_url=dsn,
        environment="test",
        **kit.bus_principal("notification"),
        smtp_port=SMTP_PORT,
        consume_events=False,
        # The tests run the delivery themselves, at the moments they choose.
        deliver=False,
        delivery_backoff_base_s=30,
        delivery_max_attempts=3,
        rate_limit_per_hour=5,
        device_offline_threshold_s=1800,
        digest_after=2,
    )


app, sessionmaker, client = kit.service_fixtures(
    create_app, base_url="http://notification", tokens=TOKENS
)


def auth(user_id: int) -> dict[str, str]:
    return TOKENS.headers(user_id)


class Sink:
    """The SMTP sink's HTTP reader."""

    def __init__(self) -> None:
        self.http = httpx.AsyncClient(base_url=SMTP_READER, timeout=10)

    async def messages(self, to: str) -> list[dict[str, Any]]:
        try:
            response = await self.http.get("/messages", params={"to": to})
        except httpx.HTTPError as exc:
            raise RuntimeError(f"the SMTP sink is not there (make infra-up): {exc}") from exc
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()["messages"]
        return found

    async def message(self, message_id: int) -> dict[str, Any]:
        response = await self.http.get(f"/messages/{message_id}")
        response.raise_for_status()
        detail: dict[str, Any] = response.json()
        return detail

    async def refuse_next(self, count: int, code: int) -> None:
        response = await self.http.post("/faults", json={"reject_next": count, "code": code})
        response.raise_for_status()


@pytest.fixture(scope="session")
async def sink() -> AsyncIterator[Sink]:
    reader = Sink()
    try:
        yield reader
    finally:
        await reader.http.aclose()


class Fleet:
    """The fleet's events, as Kafka would hand them to the service's consumer."""

    def __init__(self, maker: async_sessionmaker[AsyncSession], settings: NotificationSettings):
        self.maker = maker
        self.consumer = IdempotentConsumer(
            name="notification-tests",
            topics=[],
            bootstrap="unused:0",
            sessionmaker=maker,
            processed=processed_events,
            handler=partial(
                handle_event,
                device_offline_threshold=timedelta(seconds=settings.device_offline_threshold_s),
                digest_after=settings.digest_after,
            ),
        )
        self.delivery = DeliveryWorker(settings, maker)

    async def deliver(self, event: Event, envelope: EventEnvelope | None = None) -> EventEnvelope:
        envelope = envelope or EventEnvelope.wrap(event, producer="test", correlation_id=None)
        await self.consumer.handle(envelope)
        return envelope

    async def user(self, language: str = "it", first_name: str = "Giulia") -> tuple[int, str]:
        user_id = new_id()
        email = f"n{user_id}-{uuid.uuid4().hex[:6]}@example.org"
        await self.deliver(
            UserRegistered(
                user_id=user_id,
                username=f"u{user_id}",
                email=email,
                first_name=first_name,
                last_name="Rossi",
                user_type="PRIVATE",
                is_active=True,
                language=language,
            )
        )
        return user_id, email

    async def community(self, name: str = "CER Sole di Bergamo") -> int:
        community_id = new_id()
        await self.deliver(
            CommunityCreated(
                community_id=community_id,
                code=f"C{community_id}",
                name=name,
                market_zone="NORD",
                is_active=True,
                distribution_shares=[],
            )
        )
        return community_id

    def membership(self, user_id: int, community_id: int, role: str = "MEMBER") -> Event:
        return MembershipStarted(
            membership_id=new_id(),
            community_id=community_id,
            user_id=user_id,
            role=role,
            member_type="PRIVATE",
            body_type="NONE",
            valid_from=date(2026, 1, 1),
            valid_to=None,
        )

    async def plant(self, owner: int, community_id: int) -> int:
        plant_id = new_id()
        await self.deliver(
            PlantRegistered(
                plant_id=plant_id,
                pod=f"IT001E{plant_id % 10**8:08d}",
                name=f"Tetto {plant_id}",
                community_id=community_id,
                owner_user_id=owner,
                plant_type="PROSUMER",
                nominal_power_kw="6.00",
                technology="PV",
                entry_into_service=date(2024, 6, 1),
                region="Lombardia",
                primary_substation="AC001E01234",
                market_zone="NORD",
                capital_grant_eur_per_kw="0",
                connection_voltage="BT",
                valid_from=date(2025, 1, 1),
                valid_to=None,
            )
        )
        return plant_id


@pytest.fixture(scope="session")
async def committing(
    app: FastAPI, settings: NotificationSettings
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions that commit, as the consumer's and the delivery worker's do."""
    engine = db.create_engine(settings)
    try:
        yield db.create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def fleet(committing: async_sessionmaker[AsyncSession], settings: NotificationSettings) -> Fleet:
    return Fleet(committing, settings)
