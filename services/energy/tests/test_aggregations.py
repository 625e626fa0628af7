"""``/api/energy/aggregations/`` on real PostgreSQL and InfluxDB: a small
community on the 23-hour day, figures computed by hand; shared energy per
substation by the rules engine, points counted only while active, coverage
per source, the CSV export, and who may see what."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from cerc_shared.events.cer import PlantRegistered
from energy_service.timeseries import EnergyPoint, InfluxTimeSeries

from .conftest import ReadModels, auth, new_plant_id

MANAGER, PRODUCER, CONSUMER, FAR_CONSUMER, OUTSIDER = 801, 802, 803, 804, 805
COMMUNITY, OTHER_COMMUNITY = 93, 94
S1, S2 = "AC001E01234", "AC001E05678"
H = datetime(2025, 3, 30, 8, 0, tzinfo=UTC)  # 10:00-11:00 CEST on the 23-hour day
DAY = {"start": "2025-03-30T00:00:00+01:00", "end": "2025-03-31T00:00:00+02:00"}
PATH = "/api/energy/aggregations/"


async def register(
    read_models: ReadModels,
    owner: int,
    substation: str,
    community: int = COMMUNITY,
    valid_from: date = date(2025, 1, 1),
) -> int:
    plant = new_plant_id()
    await read_models.deliver(
        PlantRegistered(
            plant_id=plant, pod=f"IT001E{plant % 10**8:08d}", name=f"P{plant}",
            community_id=community, owner_user_id=owner, plant_type="PROSUMER",
            nominal_power_kw="6.00", technology="PV", entry_into_service=date(2024, 6, 1),
            region="Lombardia", primary_substation=substation, market_zone="NORD",
            capital_grant_eur_per_kw="0", connection_voltage="BT",
            valid_from=valid_from, valid_to=None,
        )
    )  # fmt: skip
    return plant


def point(plant: int, source: str, end: datetime, **values: float) -> EnergyPoint:
    return EnergyPoint(plant, source, source, end, values)


async def community(read_models: ReadModels, store: InfluxTimeSeries) -> dict[str, int]:
    await read_models.member(MANAGER, COMMUNITY, role="ADMIN")
    await read_models.member(PRODUCER, COMMUNITY)
    await read_models.member(CONSUMER, COMMUNITY)
    await read_models.member(OUTSIDER, OTHER_COMMUNITY, role="ADMIN")
    plants = {
        "p1": await register(read_models, PRODUCER, S1),
        "p2": await register(read_models, CONSUMER, S1),
        "p3": await register(read_models, FAR_CONSUMER, S2),
        # Joins the next day: its energy of the 30th is not the community's.
        "late": await register(read_models, PRODUCER, S1, valid_from=date(2025, 3, 31)),
        "other": await register(read_models, OUTSIDER, S1, community=OTHER_COMMUNITY),
    }
    hour_end, next_end = H + timedelta(hours=1), H + timedelta(hours=2)
    await store.write(
        [
            point(plants["p1"], "official", hour_end, energy_fed_in_kwh=5.0),
            point(plants["p2"], "official", hour_end, energy_withdrawn_kwh=3.0),
            point(plants["p3"], "official", hour_end, energy_withdrawn_kwh=4.0),
            point(plants["late"], "official", hour_end, energy_fed_in_kwh=50.0),
            point(plants["other"], "official", hour_end, energy_withdrawn_kwh=50.0),
            # The next hour: p1's device, produced 1.0 and consumed 0.25 per
            # quarter hour (3.0 fed in, derived); p2 read by hand; p3 nothing.
            *[
                point(
                    plants["p1"],
                    "iot",
                    hour_end + timedelta(minutes=15 * q),
                    energy_produced_kwh=1.0,
                    energy_consumed_kwh=0.25,
                )
                for q in (1, 2, 3, 4)
            ],
            point(plants["p2"], "manual", next_end, energy_withdrawn_kwh=2.0),
        ]
    )
    return plants


async def get(client: httpx.AsyncClient, who: int, **params: Any) -> httpx.Response:
    return await client.get(PATH, params=params, headers=auth(who))


async def test_community_hours_and_day_with_shared_energy_and_coverage(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    await community(read_models, store)
    hours = await get(client, MANAGER, by="community", community_id=COMMUNITY, **DAY)
    assert hours.status_code == 200, hours.text
    data = hours.json()["data"]
    assert len(data) == 23  # the 23-hour day, every hour, data or not
    by_start = {h["start"]: h for h in data}
    ten, eleven = by_start["2025-03-30T10:00:00+02:00"], by_start["2025-03-30T11:00:00+02:00"]
    assert (ten["fed_in_kwh"], ten["withdrawn_kwh"]) == (5.0, 7.0)
    # S1: min(5, 3) = 3; S2: min(0, 4) = 0. The whole community: min(5, 7).
    assert (ten["shared_kwh"], ten["shared_configuration_kwh"]) == (3.0, 5.0)
    assert ten["coverage"] == {"official": 3, "manual": 0, "iot": 0, "missing": 0}
    assert (ten["source"], ten["exchange"]) == ("official", "measured")
    assert (eleven["fed_in_kwh"], eleven["withdrawn_kwh"], eleven["shared_kwh"]) == (3.0, 2.0, 2.0)
    assert (eleven["produced_kwh"], eleven["self_consumption_kwh"]) == (4.0, 1.0)
    assert eleven["coverage"] == {"official": 0, "manual": 1, "iot": 1, "missing": 1}
    assert (eleven["source"], eleven["exchange"]) == ("mixed", "mixed")
    quiet = by_start["2025-03-30T03:00:00+02:00"]
    assert (quiet["shared_kwh"], quiet["coverage"]["missing"], quiet["source"]) == (
        0.0, 3, "missing",
    )  # fmt: skip

    days = await get(
        client, MANAGER, by="community", community_id=COMMUNITY, resolution="day", **DAY
    )
    [day] = days.json()["data"]
    assert (day["start"], day["end"]) == ("2025-03-30T00:00:00+01:00", "2025-03-31T00:00:00+02:00")
    assert (day["shared_kwh"], day["shared_configuration_kwh"]) == (5.0, 7.0)
    assert day["coverage"] == {"official": 3, "manual": 1, "iot": 1, "missing": 23 * 3 - 5}

    substation = await get(
        client, MANAGER, by="substation", community_id=COMMUNITY, primary_substation=S2,
        resolution="day", **DAY,
    )  # fmt: skip
    [s2] = substation.json()["data"]
    assert (s2["withdrawn_kwh"], s2["fed_in_kwh"], s2["shared_kwh"]) == (4.0, 0.0, 0.0)


async def test_plant_and_member_views_and_the_csv_export(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    plants = await community(read_models, store)
    own = await get(
        client, CONSUMER, by="member", community_id=COMMUNITY, member_id=CONSUMER,
        resolution="day", **DAY,
    )  # fmt: skip
    assert own.status_code == 200, own.text
    [day] = own.json()["data"]
    assert (day["withdrawn_kwh"], day["shared_kwh"]) == (5.0, None)

    exported = await get(
        client, PRODUCER, by="plant", plant_id=plants["p1"], format="csv",
        start="2025-03-30T10:00:00+02:00", end="2025-03-30T12:00:00+02:00",
    )  # fmt: skip
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows == [
        ["time", "end", "produced_kwh", "consumed_kwh", "fed_in_kwh", "withdrawn_kwh",
         "self_consumption_kwh", "shared_kwh", "source"],
        ["2025-03-30T10:00:00+02:00", "2025-03-30T11:00:00+02:00", "0.0", "0.0", "5.0", "0.0",
         "0.0", "", "official"],
        ["2025-03-30T11:00:00+02:00", "2025-03-30T12:00:00+02:00", "4.0", "1.0", "3.0", "0.0",
         "1.0", "", "iot"],
    ]  # fmt: skip


async def test_who_sees_which_aggregate(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    plants = await community(read_models, store)
    for who, params in [
        (OUTSIDER, {"by": "community", "community_id": COMMUNITY}),
        (CONSUMER, {"by": "community", "community_id": COMMUNITY}),
        (OUTSIDER, {"by": "substation", "community_id": COMMUNITY, "primary_substation": S1}),
        (PRODUCER, {"by": "member", "community_id": COMMUNITY, "member_id": CONSUMER}),
        (OUTSIDER, {"by": "plant", "plant_id": plants["p1"]}),
        (CONSUMER, {"by": "plant", "plant_id": plants["p1"]}),
    ]:
        answer = await get(client, who, **params, **DAY)
        assert answer.status_code == 404, (who, params, answer.text)
    manager = await get(
        client, MANAGER, by="member", community_id=COMMUNITY, member_id=PRODUCER,
        resolution="day", **DAY,
    )  # fmt: skip
    assert manager.json()["data"][0]["fed_in_kwh"] == 8.0  # p1 only: "late" was not yet in
    missing = await get(client, MANAGER, by="community", **DAY)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "community_id"
