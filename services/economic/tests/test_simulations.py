"""What-if simulations: the last 12 months settled again with a newcomer, against the same
tables, energy API and engine as runs. Properties, not figures: a consumer joining a community
with surplus raises what the community receives and gets no negative amount, a producer joining
one short of production does too, and every month's money sums to the cent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cacer.demo_prices import demo_year, to_market_zip
from cerc_shared import clock
from cerc_shared import testing as kit
from economic_service.models import RuleParameter
from economic_service.service.simulations import last_months
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import ITALY, Community, EnergyStandIn, auth, hours_of, new_id

# Today for these tests: the last 12 months are March 2026 to February 2027, days no other
# test of this service uses.
TODAY = datetime(2027, 3, 15, 10, tzinfo=UTC)
PERIODS = last_months(date(2027, 3, 15))
URL = "/api/economic/simulations/"
PLATFORM_ADMIN = new_id()


@pytest.fixture
async def prices_and_trase(
    client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    kit.freeze_utc(monkeypatch, TODAY, clock)
    headers = auth(PLATFORM_ADMIN, "ADMIN")
    # The demo year, hourly files (the quarter-hour shape is covered in test_prices).
    for year in (2026, 2027):
        days = [d for d in demo_year(year, quarter_hour_from=None) if d.day < date(2027, 3, 1)]
        response = await client.post(
            "/api/economic/prices/imports/",
            files={"file": (f"demo-{year}.zip", to_market_zip(days))},
            headers=headers,
        )
        assert response.status_code in (200, 201), response.text
        response = await client.post(
            "/api/economic/parameters/",
            json={"name": "trase_eur_mwh", "valid_from": f"{year}-01-01", "value": "10.57",
                  "source": "test: the 2024 value"},
            headers=headers,
        )  # fmt: skip
        assert response.status_code in (200, 201), response.text
    yield
    async with maker() as session, session.begin():
        await session.execute(
            delete(RuleParameter).where(
                RuleParameter.name == "trase_eur_mwh",
                RuleParameter.valid_from.in_([date(2026, 1, 1), date(2027, 1, 1)]),
            )
        )


async def community(
    maker: async_sessionmaker[AsyncSession],
    stand_in: EnergyStandIn,
    *,
    fed_in_kwh: float,
    withdrawn_kwh: float,
) -> tuple[Community, int]:
    """A producer and two consumers at one substation, a year of hourly data (iot)."""
    c = Community(maker, stand_in)
    await c.create()
    producer, consumers = new_id(), [new_id(), new_id()]
    for user in (producer, *consumers):
        await c.member(user)
    pods = {await c.plant(producer, "PRODUCER", power_kw="100"): "producer"}
    for user in consumers:
        pods[await c.plant(user, "CONSUMER")] = "consumer"
    for period in PERIODS:
        year, month = (int(x) for x in period.split("-"))
        end = date(year + (month == 12), month % 12 + 1, 1)
        hours = hours_of(date(year, month, 1), end)
        energy: dict[str, list[dict[str, Any]]] = {}
        for pod, kind in pods.items():
            rows = []
            for i, h in enumerate(hours):
                local = h.astimezone(ITALY)
                sunny = 9 <= local.hour < 17
                fed = fed_in_kwh * (1 + (i % 4) / 10) if kind == "producer" and sunny else 0
                wd = withdrawn_kwh * (1 + (i % 3) / 10) if kind == "consumer" else 0.1
                rows.append({"start": local.isoformat(), "fed_in_kwh": f"{fed:.3f}",
                             "withdrawn_kwh": f"{wd:.3f}", "source": "iot"})  # fmt: skip
            energy[pod] = rows
        c.set_energy(period, energy, official_complete=False)
    return c, consumers[0]


async def simulate(client: httpx.AsyncClient, user: int, body: dict[str, Any]) -> httpx.Response:
    return await client.post(URL, json=body, headers=auth(user))


def check_sums(data: dict[str, Any]) -> None:
    """Every month: what the community receives = members + newcomer + community fund."""
    assert [m["period"] for m in data["months"]] == PERIODS, data["skipped"]
    for month in data["months"]:
        after, before = month["after"], month["before"]
        assert after["total_cents"] == (
            after["members_cents"] + month["newcomer"]["cents"] + after["community_cents"]
        )
        assert before["total_cents"] == before["members_cents"] + before["community_cents"]
        assert month["newcomer"]["cents"] == (
            month["newcomer"]["as_producer_cents"] + month["newcomer"]["as_consumer_cents"]
        )
    for key in ("total_cents", "community_cents", "members_cents", "incentive_cents"):
        assert data["after"][key] == sum(m["after"][key] for m in data["months"])
        assert data["before"][key] == sum(m["before"][key] for m in data["months"])
    assert data["newcomer"]["cents"] == sum(m["newcomer"]["cents"] for m in data["months"])
    assert (
        data["community_gain_cents"] == data["after"]["total_cents"] - data["before"]["total_cents"]
    )


@pytest.mark.usefixtures("prices_and_trase")
async def test_a_household_joining_a_community_with_surplus(
    client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c, member = await community(maker, energy[0], fed_in_kwh=60, withdrawn_kwh=2)
    gains = []
    for annual in ("1500", "3000", "6000"):
        body = {"community_id": c.id, "household": {"annual_kwh": annual}}
        response = await simulate(client, member, body)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        check_sums(data)
        assert data["newcomer_kind"] == "household"
        for month in data["months"]:
            assert month["after"]["total_cents"] >= month["before"]["total_cents"]
            assert month["after"]["incentive_cents"] >= month["before"]["incentive_cents"]
            assert month["newcomer"]["cents"] >= 0
            assert month["newcomer"]["as_producer_cents"] == 0
            assert Decimal(month["shared_energy_kwh_after"]) > Decimal(
                month["shared_energy_kwh_before"]
            )
        assert data["community_gain_cents"] > 0 and data["newcomer"]["cents"] > 0
        assert data["after"]["incentive_cents"] > data["before"]["incentive_cents"]
        year_kwh = sum(Decimal(m["newcomer_kwh"]) for m in data["months"])
        assert abs(year_kwh - Decimal(annual)) < Decimal(annual) / 50  # the profile's year
        gains.append(data["community_gain_cents"])
    # With surplus all day, more consumption is more shared energy: the gain grows with it.
    assert gains == sorted(gains) and gains[0] < gains[-1]


@pytest.mark.usefixtures("prices_and_trase")
async def test_a_pv_plant_joining_a_community_short_of_production(
    client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c, _ = await community(maker, energy[0], fed_in_kwh=1, withdrawn_kwh=30)
    body = {"community_id": c.id,
            "plant": {"power_kw": "20", "technology": "PV", "region": "Lombardia",
                      "latitude": 45.69, "longitude": 9.67}}  # fmt: skip
    response = await simulate(client, c.admin, body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    check_sums(data)
    assert data["primary_substation"] == "AC001E00001"
    for month in data["months"]:
        assert month["after"]["total_cents"] > month["before"]["total_cents"]
        assert month["newcomer"]["as_producer_cents"] > 0
        assert Decimal(month["newcomer_kwh"]) > 0
    summer = next(m for m in data["months"] if m["period"] == "2026-06")
    winter = next(m for m in data["months"] if m["period"] == "2026-12")
    assert Decimal(summer["newcomer_kwh"]) > 2 * Decimal(winter["newcomer_kwh"])
    # The place by its region (the capital's coordinates) gives a close figure.
    by_region = await simulate(client, c.admin, {**body, "plant": {**body["plant"],
                                                 "latitude": None, "longitude": None}})  # fmt: skip
    assert by_region.status_code == 200, by_region.text
    year = sum(Decimal(m["newcomer_kwh"]) for m in data["months"])
    year_region = sum(Decimal(m["newcomer_kwh"]) for m in by_region.json()["data"]["months"])
    assert abs(year - year_region) < year / 20


@pytest.mark.usefixtures("prices_and_trase")
async def test_who_may_simulate_and_what_is_refused(
    client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c, member = await community(maker, energy[0], fed_in_kwh=10, withdrawn_kwh=5)
    household = {"community_id": c.id, "household": {"annual_kwh": "2700"}}
    other = Community(maker, energy[0])
    await other.create()
    assert (await simulate(client, other.admin, household)).status_code == 404
    assert (await simulate(client, new_id(), household)).status_code == 404
    missing = await simulate(client, c.admin, {**household, "community_id": new_id()})
    assert missing.status_code == 404
    plant = {"power_kw": "10", "region": "Lombardia"}
    for body, field in (
        ({"community_id": c.id}, "household"),
        ({**household, "plant": plant}, "household"),
        ({"community_id": c.id, "plant": {**plant, "technology": "WIND"}}, "technology"),
        ({"community_id": c.id, "plant": {**plant, "region": "Atlantide"}}, "region"),
        ({"community_id": c.id, "plant": {**plant, "latitude": 45.0}}, "latitude"),
        ({**household, "primary_substation": "AC999E99999"}, "primary_substation"),
        ({"community_id": c.id, "household": {"annual_kwh": "-5"}}, "household.annual_kwh"),
    ):
        response = await simulate(client, member, body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["field"] == field, response.json()
