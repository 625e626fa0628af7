from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import jwt
import pytest
from cerc_shared.auth import StaticKeys, TokenVerifier
from cerc_shared.events import EventEnvelope
from cerc_shared.events.cer import MembershipStarted, PlantRegistered
from cerc_shared.testing import ports, prepare_database, rolled_back_app_sessions
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from iot_service.main import create_app
from iot_service.service import apply_cer_event
from iot_service.settings import IotSettings
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

SERVICE_DIR = Path(__file__).resolve().parents[1]
KID = "iot-test"
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def settings() -> IotSettings:
    dsn = prepare_database("iot", "cerc_test_iot", SERVICE_DIR)
    p = ports()
    return IotSettings(
        database_url=dsn,
        environment="test",
        mqtt_port=int(p["MQTT_PORT"]),
        kafka_bootstrap=f"127.0.0.1:{p['KAFKA_PORT']}",
        # The detector is driven by the tests, not by the clock.
        offline_check_interval_s=3600,
        command_ack_timeout_s=60,
    )


@pytest.fixture(scope="session")
async def app(settings: IotSettings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        application.state.token_verifier = TokenVerifier(
            StaticKeys({KID: _KEY.public_key()}),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        yield application


@pytest.fixture
async def sessionmaker(
    app: FastAPI, settings: IotSettings
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with rolled_back_app_sessions(app, settings) as maker:
        yield maker


@pytest.fixture
async def client(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://iot") as http:
        yield http


def token(user_id: int, user_type: str = "PRIVATE", settings: IotSettings | None = None) -> str:
    s = settings or IotSettings()
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "username": f"user{user_id}",
        "user_type": user_type,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + timedelta(minutes=10),
        "iss": s.jwt_issuer,
        "aud": s.jwt_audience,
    }
    return jwt.encode(claims, _KEY, algorithm="RS256", headers={"kid": KID})


def bearer(user_id: int, user_type: str = "PRIVATE") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user_id, user_type)}"}


ADMIN_HEADERS = bearer(1, "ADMIN")
CER_ADMIN = 10  # ADMIN of community 100
OWNER = 20  # owns plant 1000 in community 100
MEMBER = 30  # MEMBER of community 100
STRANGER = 40


def unique_id(prefix: str = "dev") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def plant_event(
    plant_id: int, community_id: int, owner: int, valid_to: date | None = None
) -> PlantRegistered:
    return PlantRegistered(
        plant_id=plant_id,
        pod=f"IT001E{plant_id:08d}",
        name=f"Impianto {plant_id}",
        community_id=community_id,
        owner_user_id=owner,
        plant_type="PROSUMER",
        nominal_power_kw=Decimal("6.0"),
        technology="PV",
        entry_into_service=date(2024, 1, 1),
        region="Lombardia",
        primary_substation="AC001E00001",
        market_zone="NORD",
        capital_grant_eur_per_kw=Decimal("0"),
        connection_voltage="BT",
        valid_from=date(2024, 1, 1),
        valid_to=valid_to,
    )


def membership_event(
    membership_id: int, community_id: int, user_id: int, role: str
) -> MembershipStarted:
    return MembershipStarted(
        membership_id=membership_id,
        community_id=community_id,
        user_id=user_id,
        role=role,  # type: ignore[arg-type]
        member_type="PRIVATE",
        body_type="NONE",
        valid_from=date(2024, 1, 1),
        valid_to=None,
    )


def envelope(event: PlantRegistered | MembershipStarted) -> EventEnvelope:
    return EventEnvelope.wrap(event, producer="cer", correlation_id=None)


@pytest.fixture
async def community(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Community 100 with plants 1000 (OWNER's) and 1001 (left), community 200 with plant 2000."""
    async with sessionmaker() as session:
        for event in (
            plant_event(1000, 100, OWNER),
            plant_event(1001, 100, OWNER, valid_to=date(2024, 6, 1)),
            plant_event(2000, 200, STRANGER),
            membership_event(1, 100, CER_ADMIN, "ADMIN"),
            membership_event(2, 100, MEMBER, "MEMBER"),
            membership_event(3, 100, OWNER, "MEMBER"),
        ):
            await apply_cer_event(session, envelope(event))
        await session.commit()


Register = Callable[..., object]


# The live fixtures (committed data, a running bridge) live beside these.
from .live import bridge, devices, live_maker, live_plant  # noqa: E402, F401
