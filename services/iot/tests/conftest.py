from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from cerc_shared import testing as kit
from cerc_shared.events import EventEnvelope
from cerc_shared.events.cer import MembershipStarted, PlantRegistered
from cerc_shared.testing import ports, prepare_database
from iot_service.main import create_app
from iot_service.service import apply_cer_event
from iot_service.settings import IotSettings
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

SERVICE_DIR = Path(__file__).resolve().parents[1]
TOKENS = kit.TestTokens("iot-test")


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
        # So is the stay-end revoker (one check at start, then hourly).
        stay_end_check_interval_s=3600,
        command_ack_timeout_s=60,
    )


app, sessionmaker, client = kit.service_fixtures(create_app, base_url="http://iot", tokens=TOKENS)


def token(user_id: int, user_type: str = "PRIVATE", settings: IotSettings | None = None) -> str:
    return TOKENS.token(user_id, user_type)


def bearer(user_id: int, user_type: str = "PRIVATE") -> dict[str, str]:
    return TOKENS.headers(user_id, user_type)


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
