"""GET /api/energy/predictions/ on real PostgreSQL and InfluxDB: the performance ratio learned
from the plant's own readings, no PV at night, consumption from the same hours of past weeks,
best hours where the community's surplus is greatest, and 404 across communities."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from cerc_shared import clock
from cerc_shared.events.cer import PlantRegistered
from cerc_shared.testing import freeze_utc
from energy_service.api import predictions
from energy_service.forecast import clear_sky_per_kw
from energy_service.timeseries import EnergyPoint, InfluxTimeSeries

from .conftest import ReadModels, auth, new_plant_id

OWNER, NEIGHBOUR, MANAGER, OUTSIDER = 951, 952, 953, 954
COMMUNITY, OTHER = 195, 196
NOW = datetime(2025, 6, 16, 9, 20, tzinfo=UTC)  # a Monday, 11:20 in Rome
FIRST = datetime(2025, 6, 16, 9, tzinfo=UTC)
HOUR = timedelta(hours=1)
PATH = "/api/energy/predictions/"


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze_utc(monkeypatch, NOW, predictions, clock)


async def seed(read_models: ReadModels, store: InfluxTimeSeries) -> dict[str, int]:
    await read_models.member(OWNER, COMMUNITY)
    await read_models.member(NEIGHBOUR, COMMUNITY)
    await read_models.member(MANAGER, COMMUNITY, role="ADMIN")
    await read_models.member(OUTSIDER, OTHER, role="ADMIN")
    solar, home, other = new_plant_id(), new_plant_id(), new_plant_id()
    await read_models.plant(solar, OWNER, COMMUNITY)  # 6 kW PV prosumer in Lombardia
    await read_models.deliver(
        PlantRegistered(
            plant_id=home, pod=f"IT001E{home % 10**8:08d}", name="Casa", community_id=COMMUNITY,
            owner_user_id=NEIGHBOUR, plant_type="CONSUMER", nominal_power_kw="0",
            technology=None, entry_into_service=None, region="Lombardia",
            primary_substation="AC001E01234", market_zone="NORD", capital_grant_eur_per_kw="0",
            connection_voltage="BT", valid_from=date(2025, 1, 1), valid_to=None,
        )
    )  # fmt: skip
    await read_models.plant(other, OUTSIDER, OTHER)
    start = FIRST - timedelta(weeks=2)
    sky = clear_sky_per_kw("Lombardia", start, FIRST)
    points = []
    for i, kwh in enumerate(sky):
        end = start + (i + 1) * HOUR  # readings are stamped at the end of their interval
        points.append(EnergyPoint(solar, "pv", "iot", end, {"energy_produced_kwh": 0.5 * 6 * kwh}))
        points.append(EnergyPoint(solar, "house", "iot", end, {"energy_consumed_kwh": 0.2}))
        points.append(EnergyPoint(home, "meter", "iot", end, {"energy_withdrawn_kwh": 0.4}))
    await store.write(points)
    return {"solar": solar, "home": home, "other": other}


async def get(client: httpx.AsyncClient, user: int, **params: Any) -> httpx.Response:
    return await client.get(PATH, params=params, headers=auth(user))


async def test_a_plants_forecast_learns_its_performance_ratio(
    client: httpx.AsyncClient, read_models: ReadModels, store: InfluxTimeSeries, frozen: None
) -> None:
    plants = await seed(read_models, store)
    response = await get(client, OWNER, by="plant", plant_id=plants["solar"])
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["performance_ratio_basis"] == "history"
    assert data["performance_ratio"] == pytest.approx(0.5, abs=0.001)
    assert data["consumption_basis"] == "history"
    hours = data["hours"]
    assert len(hours) == 48
    assert datetime.fromisoformat(hours[0]["start"]) == FIRST
    for hour in hours:
        local = datetime.fromisoformat(hour["start"]).hour  # Europe/Rome, as served
        if local < 5 or local >= 22:
            assert hour["pv_kwh"] == 0
        assert min(hour["pv_kwh"], hour["fed_in_kwh"], hour["withdrawn_kwh"]) >= 0
        assert hour["consumption_kwh"] == pytest.approx(0.2)
        assert hour["shared_kwh"] is None
    best = data["best_hours"]
    assert best and [b["surplus_kwh"] for b in best] == sorted(
        (b["surplus_kwh"] for b in best), reverse=True
    )
    assert max(h["surplus_kwh"] for h in hours) == best[0]["surplus_kwh"]


async def test_a_communitys_forecast_for_its_members_and_404_for_others(
    client: httpx.AsyncClient, read_models: ReadModels, store: InfluxTimeSeries, frozen: None
) -> None:
    plants = await seed(read_models, store)
    response = await get(client, NEIGHBOUR, by="community", community_id=COMMUNITY)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["plants"] == 2 and data["performance_ratio"] is None
    for hour in data["hours"]:
        assert hour["consumption_kwh"] == pytest.approx(0.6)
        # One substation: shared = min(fed-in, withdrawn), never negative.
        assert hour["shared_kwh"] == pytest.approx(
            min(hour["fed_in_kwh"], hour["withdrawn_kwh"]), abs=0.001
        )
        assert hour["shared_kwh"] >= 0
    surplus = {h["start"]: h["surplus_kwh"] for h in data["hours"]}
    best = data["best_hours"]
    assert best
    floor = min(b["surplus_kwh"] for b in best)
    chosen = {b["start"] for b in best}
    assert all(s <= floor for start, s in surplus.items() if start not in chosen)
    assert all(surplus[b["start"]] == b["surplus_kwh"] > 0 for b in best)

    # Another community's administrator sees neither the community nor its plants.
    assert (await get(client, OUTSIDER, by="community", community_id=COMMUNITY)).status_code == 404
    assert (await get(client, OUTSIDER, by="plant", plant_id=plants["solar"])).status_code == 404
    # A member sees the community, not a neighbour's plant.
    assert (await get(client, NEIGHBOUR, by="plant", plant_id=plants["solar"])).status_code == 404
    assert (await get(client, MANAGER, by="plant", plant_id=plants["solar"])).status_code == 200
    missing = await get(client, OWNER, by="plant")
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "plant_id"
