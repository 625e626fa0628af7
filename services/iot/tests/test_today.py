"""The iot service's "today" is Italy's: memberships and plant periods are
Italian calendar dates, and at 23:30 UTC in summer it is already 01:30 of
the next day in Rome."""

from __future__ import annotations

from datetime import UTC, date, datetime

import cerc_shared.clock
import iot_service.service
import pytest
from cerc_shared.auth import Principal
from cerc_shared.events.cer import MembershipStarted
from cerc_shared.testing import freeze_utc
from iot_service.models import registry
from iot_service.service import access_to, apply_cer_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import OWNER, envelope, plant_event

pytestmark = pytest.mark.servers


async def test_a_membership_from_today_counts_at_23_30_utc_in_summer(
    sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 14 July 23:30 UTC is 15 July 01:30 in Rome (CEST, UTC+2): the UTC date is the 14th.
    freeze_utc(
        monkeypatch,
        datetime(2025, 7, 14, 23, 30, tzinfo=UTC),
        cerc_shared.clock,
        iot_service.service,
    )
    new_admin = 4242
    joins_today = MembershipStarted(
        membership_id=4243,
        community_id=400,
        user_id=new_admin,
        role="ADMIN",
        member_type="PRIVATE",
        body_type="NONE",
        valid_from=date(2025, 7, 15),
        valid_to=None,
    )
    async with sessionmaker() as session:
        await apply_cer_event(session, envelope(plant_event(4000, 400, OWNER)))
        await apply_cer_event(session, envelope(joins_today))
        plant = await registry.reader(session).plant(4000)
        assert plant is not None
        principal = Principal(user_id=new_admin, username="a", user_type="PRIVATE", token_id="t")
        assert await access_to(session, principal, plant) == "manage"
