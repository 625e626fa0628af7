"""The measurements API: resolutions in Italian local time with hand-computed
sums (including both daylight-saving days), source precedence, filters,
pagination and authorisation from the plant/membership read models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cerc_shared.events.cer import MembershipEnded, MembershipStarted, PlantUpdated
from energy_service.models import registry
from energy_service.timeseries import EnergyPoint, InfluxTimeSeries

from .conftest import ReadModels, auth, new_plant_id

OWNER, OTHER_MEMBER, CER_ADMIN, OTHER_ADMIN, PLATFORM_ADMIN = 501, 502, 503, 504, 1
COMMUNITY, OTHER_COMMUNITY = 71, 72


def consumed(plant: int, device: str, at: datetime, kwh: float, source: str = "iot") -> EnergyPoint:
    return EnergyPoint(plant, device, source, at, {"energy_consumed_kwh": kwh})


async def spring_forward_plant(store: InfluxTimeSeries) -> int:
    """A plant around Sunday 30 March 2025, the 23-hour day (02:00 CET -> 03:00 CEST).

    Local 30 March is (2025-03-29T23:00Z, 2025-03-30T22:00Z]. Quarter-hour
    readings of 0.25 kWh cover it: 92 readings, 1 kWh an hour, 23 kWh. One
    reading just before (ending at local midnight, so still the 29th) and one
    just after. And an official figure for 10:00-11:00 CEST."""
    plant = new_plant_id()
    day_start = datetime(2025, 3, 29, 23, 0, tzinfo=UTC)
    points = [
        consumed(plant, "meter-1", day_start + timedelta(minutes=15 * i), 0.25)
        for i in range(1, 93)
    ]
    points.append(consumed(plant, "meter-1", day_start, 1.0))
    points.append(consumed(plant, "meter-1", datetime(2025, 3, 30, 22, 15, tzinfo=UTC), 2.0))
    points.append(
        EnergyPoint(
            plant,
            "gse",
            "official",
            datetime(2025, 3, 30, 9, 0, tzinfo=UTC),
            {"energy_consumed_kwh": 0.9, "energy_produced_kwh": 0.5},
        )
    )
    await store.write(points)
    return plant


async def get(
    client: httpx.AsyncClient, path: str, who: dict[str, str], **params: Any
) -> httpx.Response:
    return await client.get(path, params=params, headers=who)


async def test_day_month_hour_and_quarter_hour_on_the_23_hour_day(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    plant = await spring_forward_plant(store)
    await read_models.plant(plant, owner=OWNER, community=COMMUNITY)
    path = f"/api/plants/{plant}/measurements/"

    days = await get(
        client,
        path,
        auth(OWNER),
        resolution="day",
        start="2025-03-29T00:00:00+01:00",
        end="2025-04-01T00:00:00+02:00",
    )
    assert days.status_code == 200, days.text
    body = days.json()
    assert body["meta"] == {"page": 1, "per_page": 100, "total": 3}
    assert [
        (d["start"], d["end"], d["energy_consumed_kwh"], d["energy_produced_kwh"], d["source"])
        for d in body["data"]
    ] == [
        ("2025-03-29T00:00:00+01:00", "2025-03-30T00:00:00+01:00", 1.0, 0.0, "iot"),
        # 23 hours of 1 kWh, but 10:00-11:00 is the official 0.9 (and 0.5 produced).
        ("2025-03-30T00:00:00+01:00", "2025-03-31T00:00:00+02:00", 22.9, 0.5, "mixed"),
        ("2025-03-31T00:00:00+02:00", "2025-04-01T00:00:00+02:00", 2.0, 0.0, "iot"),
    ]
    assert body["data"][1]["intervals_by_source"] == {"iot": 22, "official": 1}
    assert {d["plant_id"] for d in body["data"]} == {plant}

    only_iot = await get(
        client,
        path,
        auth(OWNER),
        resolution="day",
        source="iot",
        start="2025-03-30T00:00:00+01:00",
        end="2025-03-31T00:00:00+02:00",
    )
    assert [(d["energy_consumed_kwh"], d["source"]) for d in only_iot.json()["data"]] == [
        (23.0, "iot")
    ]

    month = await get(
        client,
        path,
        auth(OWNER),
        resolution="month",
        start="2025-03-01T00:00:00+01:00",
        end="2025-04-01T00:00:00+02:00",
    )
    [march] = month.json()["data"]
    assert (march["start"], march["end"]) == (
        "2025-03-01T00:00:00+01:00",
        "2025-04-01T00:00:00+02:00",
    )
    assert march["energy_consumed_kwh"] == 25.9
    assert march["intervals_by_source"] == {"iot": 24, "official": 1}

    hours = await get(
        client,
        path,
        auth(OWNER),
        resolution="hour",
        start="2025-03-30T00:00:00+01:00",
        end="2025-03-31T00:00:00+02:00",
        per_page=10,
        page=1,
    )
    assert hours.json()["meta"] == {"page": 1, "per_page": 10, "total": 23}
    starts = [h["start"] for h in hours.json()["data"]]
    # 02:00 does not exist that night.
    assert starts[:4] == [
        "2025-03-30T00:00:00+01:00",
        "2025-03-30T01:00:00+01:00",
        "2025-03-30T03:00:00+02:00",
        "2025-03-30T04:00:00+02:00",
    ]
    ten = hours.json()["data"][9]
    assert (ten["start"], ten["end"]) == ("2025-03-30T10:00:00+02:00", "2025-03-30T11:00:00+02:00")
    assert (ten["energy_consumed_kwh"], ten["source"]) == (0.9, "official")
    assert {h["energy_consumed_kwh"] for i, h in enumerate(hours.json()["data"]) if i != 9} == {1.0}
    last = await get(
        client,
        path,
        auth(OWNER),
        resolution="hour",
        start="2025-03-30T00:00:00+01:00",
        end="2025-03-31T00:00:00+02:00",
        per_page=10,
        page=3,
    )
    assert [h["end"] for h in last.json()["data"]] == [
        "2025-03-30T22:00:00+02:00",
        "2025-03-30T23:00:00+02:00",
        "2025-03-31T00:00:00+02:00",
    ]

    # Quarter-hours: the official reading (ending 11:00 CEST) supersedes only
    # the quarter it covers.
    quarters = await get(
        client,
        path,
        auth(OWNER),
        resolution="15min",
        start="2025-03-30T10:00:00+02:00",
        end="2025-03-30T11:00:00+02:00",
    )
    assert [
        (q["start"], q["energy_consumed_kwh"], q["source"]) for q in quarters.json()["data"]
    ] == [
        ("2025-03-30T10:00:00+02:00", 0.25, "iot"),
        ("2025-03-30T10:15:00+02:00", 0.25, "iot"),
        ("2025-03-30T10:30:00+02:00", 0.25, "iot"),
        ("2025-03-30T10:45:00+02:00", 0.9, "official"),
    ]


async def test_the_25_hour_day_in_october(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    """Sunday 26 October 2025: 03:00 CEST -> 02:00 CET, so 02:00 happens twice."""
    plant = new_plant_id()
    await read_models.plant(plant, owner=OWNER, community=COMMUNITY)
    first_hour_end = datetime(2025, 10, 25, 23, 0, tzinfo=UTC)  # 01:00 CEST
    await store.write(
        [
            EnergyPoint(
                plant,
                "inverter",
                "iot",
                first_hour_end + timedelta(hours=i),
                {"energy_produced_kwh": 1.0},
            )
            for i in range(25)
        ]
    )
    window = {"start": "2025-10-26T00:00:00+02:00", "end": "2025-10-27T00:00:00+01:00"}
    day = await get(
        client, "/api/energy/measurements/", auth(OWNER), plant_id=plant, resolution="day", **window
    )
    [sunday] = day.json()["data"]
    assert (sunday["start"], sunday["end"]) == (
        "2025-10-26T00:00:00+02:00",
        "2025-10-27T00:00:00+01:00",
    )
    assert sunday["energy_produced_kwh"] == 25.0
    hours = await get(
        client,
        "/api/energy/measurements/",
        auth(OWNER),
        plant_id=plant,
        resolution="hour",
        **window,
    )
    starts = [h["start"] for h in hours.json()["data"]]
    assert hours.json()["meta"]["total"] == 25
    assert starts[1:5] == [
        "2025-10-26T01:00:00+02:00",
        "2025-10-26T02:00:00+02:00",
        "2025-10-26T02:00:00+01:00",
        "2025-10-26T03:00:00+01:00",
    ]


async def test_raw_readings_with_filters_and_pages(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    plant = await spring_forward_plant(store)
    await read_models.plant(plant, owner=OWNER, community=COMMUNITY)
    path = f"/api/plants/{plant}/measurements/"
    day = {"start": "2025-03-30T00:00:00+01:00", "end": "2025-03-31T00:00:00+02:00"}

    page = await get(client, path, auth(OWNER), source="iot", per_page=50, page=2, **day)
    assert page.json()["meta"] == {"page": 2, "per_page": 50, "total": 92}
    items = page.json()["data"]
    assert len(items) == 42
    times = [datetime.fromisoformat(i["timestamp"]) for i in items]
    assert times == sorted(times)
    assert times[-1] == datetime(2025, 3, 30, 22, 0, tzinfo=UTC)
    assert {(i["source"], i["device_id"], i["energy_consumed_kwh"]) for i in items} == {
        ("iot", "meter-1", 0.25)
    }

    official = await get(client, path, auth(OWNER), device_id="gse", **day)
    assert official.json()["meta"]["total"] == 1
    [item] = official.json()["data"]
    assert item == {
        "timestamp": "2025-03-30T09:00:00Z",
        "plant_id": plant,
        "device_id": "gse",
        "source": "official",
        "energy_produced_kwh": 0.5,
        "energy_consumed_kwh": 0.9,
        "energy_fed_in_kwh": None,
        "energy_withdrawn_kwh": None,
        "power_produced_kw": None,
        "power_consumed_kw": None,
        "voltage": None,
        "current": None,
        "frequency": None,
        "power_factor": None,
    }
    beyond = await get(client, path, auth(OWNER), per_page=50, page=3, **day)
    assert beyond.json()["meta"]["total"] == 93 and beyond.json()["data"] == []


async def test_query_parameters_are_validated(
    client: httpx.AsyncClient, read_models: ReadModels
) -> None:
    plant = new_plant_id()
    await read_models.plant(plant, owner=OWNER, community=COMMUNITY)
    path = f"/api/plants/{plant}/measurements/"
    cases = [
        ({"start": "2025-03-30T00:00:00"}, "start"),  # no timezone
        ({"start": "2025-03-30T00:00:00Z", "end": "2025-03-29T00:00:00Z"}, "end"),
        ({"start": "2024-01-01T00:00:00Z", "end": "2025-06-01T00:00:00Z"}, "end"),
        ({"resolution": "week"}, "resolution"),
        ({"source": "guess"}, "source"),
        ({"per_page": 5000}, "per_page"),
    ]
    for params, field in cases:
        response = await get(client, path, auth(OWNER), **params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["errors"][0]["field"] == field, (params, response.text)


async def test_who_sees_which_plant(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    mine, neighbours, elsewhere = new_plant_id(), new_plant_id(), new_plant_id()
    await read_models.plant(mine, owner=OWNER, community=COMMUNITY)
    await read_models.plant(neighbours, owner=OTHER_MEMBER, community=COMMUNITY)
    await read_models.plant(elsewhere, owner=9999, community=OTHER_COMMUNITY)
    await read_models.member(OWNER, COMMUNITY)
    await read_models.member(OTHER_MEMBER, COMMUNITY)
    await read_models.member(CER_ADMIN, COMMUNITY, role="ADMIN")
    await read_models.member(OTHER_ADMIN, OTHER_COMMUNITY, role="ADMIN")
    former = 505
    await read_models.member(former, COMMUNITY, role="ADMIN", ended=datetime(2025, 1, 1).date())
    at = datetime(2024, 5, 5, 12, 0, tzinfo=UTC)  # only this test writes here
    await store.write([consumed(p, "meter-1", at, 1.0) for p in (mine, neighbours, elsewhere)])
    window = {"start": "2024-05-05T00:00:00+02:00", "end": "2024-05-06T00:00:00+02:00"}

    async def sees(who: dict[str, str], plant: int) -> bool:
        response = await get(client, f"/api/plants/{plant}/measurements/", who, **window)
        via_query = await get(client, "/api/energy/measurements/", who, plant_id=plant, **window)
        assert response.status_code == via_query.status_code, (response.text, via_query.text)
        assert response.status_code in (200, 404), response.text
        if response.status_code == 404:
            assert response.json()["errors"][0]["code"] == "not_found"
        return response.status_code == 200

    assert await sees(auth(OWNER), mine)
    assert not await sees(auth(OWNER), neighbours)  # a fellow member's plant
    assert await sees(auth(CER_ADMIN), mine) and await sees(auth(CER_ADMIN), neighbours)
    assert not await sees(auth(CER_ADMIN), elsewhere)
    assert not await sees(auth(OTHER_ADMIN), mine)  # admin of another community
    assert not await sees(auth(former), mine)  # no longer admin
    assert not await sees(auth(777), mine)  # nobody
    admin = auth(PLATFORM_ADMIN, "ADMIN")
    assert all([await sees(admin, p) for p in (mine, neighbours, elsewhere)])
    assert not await sees(admin, new_plant_id())  # unknown plant

    async def plants_listed(who: dict[str, str]) -> set[int]:
        response = await get(client, "/api/energy/measurements/", who, **window)
        assert response.status_code == 200, response.text
        return {item["plant_id"] for item in response.json()["data"]}

    assert await plants_listed(auth(OWNER)) == {mine}
    assert await plants_listed(auth(CER_ADMIN)) == {mine, neighbours}
    assert await plants_listed(auth(777)) == set()
    assert await plants_listed(admin) == {mine, neighbours, elsewhere}

    anonymous = await client.get(f"/api/plants/{mine}/measurements/", params=window)
    assert anonymous.status_code == 401


async def test_read_models_follow_plant_and_membership_events_once(
    client: httpx.AsyncClient, read_models: ReadModels
) -> None:
    plant = new_plant_id()
    await read_models.plant(plant, owner=OWNER, community=COMMUNITY)
    window = {"start": "2024-05-05T00:00:00+02:00", "end": "2024-05-06T00:00:00+02:00"}
    path = f"/api/plants/{plant}/measurements/"
    assert (await get(client, path, auth(OWNER), **window)).status_code == 200

    # The plant changes hands (plant.updated): the old owner no longer sees it.
    moved = PlantUpdated(
        **{
            **(await _plant_facts(read_models, plant)),
            "owner_user_id": OTHER_MEMBER,
            "changed": ["owner_user_id"],
        }
    )
    envelope = await read_models.deliver(moved)
    assert not await read_models.consumer.handle(envelope)  # redelivered: acts once
    assert (await get(client, path, auth(OWNER), **window)).status_code == 404
    assert (await get(client, path, auth(OTHER_MEMBER), **window)).status_code == 200


async def _plant_facts(read_models: ReadModels, plant: int) -> dict[str, Any]:
    async with read_models.maker() as session:
        row = await registry.reader(session).plant(plant)
        assert row is not None
    return {
        "plant_id": plant,
        "pod": row.pod,
        "name": "Impianto",
        "community_id": row.community_id,
        "owner_user_id": row.owner_user_id,
        "plant_type": "PROSUMER",
        "nominal_power_kw": "6.00",
        "technology": "PV",
        "entry_into_service": None,
        "region": "Lombardia",
        "primary_substation": row.primary_substation,
        "market_zone": row.market_zone,
        "capital_grant_eur_per_kw": "0",
        "connection_voltage": None,
        "valid_from": row.valid_from,
        "valid_to": row.valid_to,
    }


async def test_a_callers_scope_is_kept_until_the_registry_moves(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    plant, manager = new_plant_id(), 4242
    await read_models.plant(plant, owner=OWNER, community=COMMUNITY)
    membership: dict[str, Any] = {
        "membership_id": 10**9 + plant, "community_id": COMMUNITY, "user_id": manager,
        "role": "ADMIN", "member_type": "PRIVATE", "body_type": "NONE",
        "valid_from": datetime(2024, 1, 1).date(), "valid_to": None,
    }  # fmt: skip
    await read_models.deliver(MembershipStarted(**membership))
    at = datetime(2024, 5, 5, 12, 0, tzinfo=UTC)
    await store.write([consumed(plant, "meter-1", at, 1.0)])
    window = {"start": "2024-05-05T00:00:00+02:00", "end": "2024-05-06T00:00:00+02:00"}

    async def status() -> int:
        response = await get(client, f"/api/plants/{plant}/measurements/", auth(manager), **window)
        return response.status_code

    assert await status() == 200
    # Changed behind the consumer's back: the scope kept a moment ago still answers...
    async with read_models.maker() as session, session.begin():
        table = registry.memberships
        await session.execute(
            table.delete().where(table.c.membership_id == membership["membership_id"])
        )
    assert await status() == 200
    # ...but an event applied in this process forgets it at once.
    await read_models.deliver(MembershipStarted(**membership))
    assert await status() == 200
    ended = {**membership, "valid_to": datetime(2024, 6, 1).date()}
    await read_models.deliver(MembershipEnded(**ended))
    assert await status() == 404
