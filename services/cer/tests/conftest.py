from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cer_service.main import create_app
from cer_service.models import processed_events
from cer_service.settings import CerSettings
from cer_service.user_events import on_user_event
from cerc_shared import testing as kit
from cerc_shared.consumer import IdempotentConsumer
from cerc_shared.events import EventEnvelope
from cerc_shared.events.user import UserRegistered
from cerc_shared.testing import prepare_database
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

SERVICE_DIR = Path(__file__).resolve().parents[1]
# Tokens in these tests are signed by a key the test holds; the
# verification code is the one the service runs against the JWKS.
TOKENS = kit.TestTokens("cer-tests")
KID, SIGNING_KEY = TOKENS.kid, TOKENS.key
MAX_DOCUMENT_BYTES = 64 * 1024

# Valid identifiers (check digits computed, not invented).
TAX_CODE = "RSSMRA85T10A562S"
VAT_NUMBER = "00743110157"
IBAN = "IT60X0542811101000000123456"


def settings_for(database: str, documents: Path) -> CerSettings:
    """The service on a freshly migrated ``database``, users fed by the tests."""
    return CerSettings(
        database_url=prepare_database("cer", database, SERVICE_DIR),
        environment="test",
        **kit.bus_principal("cer"),
        consume_users=False,
        storage_dir=str(documents),
        max_document_bytes=MAX_DOCUMENT_BYTES,
    )


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> CerSettings:
    return settings_for("cerc_test_cer", tmp_path_factory.mktemp("documents"))


def running_app(settings: CerSettings) -> AbstractAsyncContextManager[FastAPI]:
    """The service with its lifespan running (relay, registry watch, pools)."""
    return kit.running_app(create_app(settings), settings, TOKENS)


app, sessionmaker, client = kit.service_fixtures(create_app, base_url="http://cer", tokens=TOKENS)


def token(user_id: int, username: str = "", user_type: str = "PRIVATE") -> str:
    return TOKENS.token(user_id, user_type, username=username)


def auth(user_id: int, user_type: str = "PRIVATE") -> dict[str, str]:
    return TOKENS.headers(user_id, user_type)


PLATFORM_ADMIN = auth(1, "ADMIN")


class Users:
    """Feeds the users' read model the way user.v1 does: through the consumer."""

    def __init__(self, maker: async_sessionmaker[AsyncSession]) -> None:
        self.consumer = IdempotentConsumer(
            name="cer-tests",
            topics=[],
            bootstrap="unused:0",
            sessionmaker=maker,
            processed=processed_events,
            handler=on_user_event,
        )

    async def register(self, user_id: int, username: str, **extra: Any) -> EventEnvelope:
        event = UserRegistered(
            user_id=user_id,
            username=username,
            email=extra.pop("email", f"{username}@example.it"),
            first_name=extra.pop("first_name", username.title()),
            last_name=extra.pop("last_name", "Rossi"),
            user_type=extra.pop("user_type", "PRIVATE"),
            is_active=extra.pop("is_active", True),
        )
        envelope = EventEnvelope.wrap(event, producer="user", correlation_id=None)
        assert await self.consumer.handle(envelope)
        return envelope


@pytest.fixture
def users(sessionmaker: async_sessionmaker[AsyncSession]) -> Users:
    return Users(sessionmaker)


def community_body(code: str = "CER001", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "CER Milano Centro",
        "code": code,
        "description": "Comunità energetica del centro",
        "market_zone": "NORD",
        "distribution_shares": {
            "valid_from": "2025-01-01",
            "producers_pct": "55.00",
            "consumers_pct": "35.00",
            "community_fund_pct": "10.00",
        },
    }
    body.update(overrides)
    return body


def member_body(who: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "username": who,
        "role": "MEMBER",
        "member_type": "PRIVATE",
        "tax_code": TAX_CODE,
        "iban": IBAN,
        "joined_on": "2025-01-01",
    }
    body.update(overrides)
    return body


def plant_body(
    cer_id: int, owner: int, pod: str = "IT001E12345678", **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "cer_id": cer_id,
        "owner_user_id": owner,
        "name": "Tetto via Roma",
        "pod": pod,
        "plant_type": "PRODUCER",
        "nominal_power_kw": "19.50",
        "technology": "PV",
        "entry_into_service": "2024-06-01",
        "address": "Via Roma 1",
        "city": "Milano",
        "province": "MI",
        "region": "Lombardia",
        "zip_code": "20121",
        "latitude": "45.46420000",
        "longitude": "9.19000000",
        "primary_substation": "AC001E01234",
        "market_zone": "NORD",
        "capital_grant_eur_per_kw": "0",
        "connection_voltage": "BT",
        "valid_from": "2025-01-01",
    }
    body.update(overrides)
    return body


async def new_community(
    client: httpx.AsyncClient, founder: int, code: str = "CER001", **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/cer/", json=community_body(code, **overrides), headers=auth(founder)
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def add_member(
    client: httpx.AsyncClient, cer_id: int, admin: int, who: str, **overrides: Any
) -> dict[str, Any]:
    """``who`` joins the community ``admin`` manages. Managers cannot add people
    directly any more (they invite: test_invitations.py); the platform's direct
    route sets the stage, as the demo seeding does."""
    del admin  # names the scene's manager; the platform does the adding
    response = await client.post(
        f"/api/cer/{cer_id}/members/", json=member_body(who, **overrides), headers=PLATFORM_ADMIN
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data
