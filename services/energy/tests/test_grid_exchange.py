"""Grid exchange end to end on real Kafka and InfluxDB: a meter at the grid
connection and the specification's produced/consumed message, read back as
fed-in and withdrawn energy with their source and how they were obtained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from aiokafka import AIOKafkaProducer
from cerc_shared.events import EventEnvelope
from cerc_shared.events.iot import MeasurementsAccepted, Reading
from cerc_shared.testing import eventually
from energy_service.timeseries import InfluxTimeSeries, SeriesQuery
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import ReadModels, auth, new_plant_id, produce
from .test_write_api import publish

OWNER, COMMUNITY = 611, 81
HOUR = datetime(2025, 7, 1, 8, 0, tzinfo=UTC)  # 10:00-11:00 in Rome


def at(quarter: int) -> datetime:
    return HOUR + timedelta(minutes=15 * quarter)


async def send(producer: AIOKafkaProducer, plant: int, source: str, *readings: Reading) -> None:
    event = MeasurementsAccepted(plant_id=plant, source=source, readings=list(readings))  # type: ignore[arg-type]
    await produce(producer, EventEnvelope.wrap(event, producer="iot", correlation_id=None))


async def test_grid_meter_and_spec_readings_become_fed_in_and_withdrawn(
    client: httpx.AsyncClient,
    store: InfluxTimeSeries,
    producer: AIOKafkaProducer,
    read_models: ReadModels,
) -> None:
    grid, spec = new_plant_id(), new_plant_id()
    await read_models.plant(grid, owner=OWNER, community=COMMUNITY)
    await read_models.plant(spec, owner=OWNER, community=COMMUNITY)
    # A Shelly at the POD: its export is given as produced, its import as
    # consumed (the adapters' convention); the event says where it measures.
    await send(
        producer,
        grid,
        "iot",
        *[
            Reading(
                device_id="shelly-pod",
                timestamp=at(q),
                interval_s=900,
                energy_produced_kwh=0.4,
                energy_consumed_kwh=0.1,
                measuring_point="grid_connection",
            )
            for q in (1, 2, 3, 4)
        ],
        Reading(device_id="inverter", timestamp=at(4), energy_produced_kwh=2.5),
    )
    # The specification's message: production and consumption only. Netted
    # over the hour nothing crosses the POD; per quarter hour it does.
    await send(
        producer,
        spec,
        "iot",
        *[
            Reading(
                device_id="m1",
                timestamp=at(q),
                energy_produced_kwh=1.0 if q <= 2 else 0.0,
                energy_consumed_kwh=0.0 if q <= 2 else 1.0,
            )
            for q in (1, 2, 3, 4)
        ],
    )

    async def stored() -> bool:
        query = SeriesQuery(start=HOUR, end=at(4), plant_ids=[grid, spec])
        return (await store.raw_page(query, offset=0, limit=1))[1] == 9

    await eventually(stored, "nine readings stored")
    window = {"start": HOUR.isoformat(), "end": at(4).isoformat(), "resolution": "hour"}
    answer = await client.get(
        f"/api/plants/{grid}/measurements/", params=window, headers=auth(OWNER)
    )
    assert answer.status_code == 200, answer.text
    [bucket] = answer.json()["data"]
    assert bucket["energy_fed_in_kwh"] == 1.6
    assert bucket["energy_withdrawn_kwh"] == 0.4
    assert bucket["energy_produced_kwh"] == 2.5
    assert bucket["energy_consumed_kwh"] == 0.0
    assert (bucket["exchange"], bucket["source"]) == ("measured", "iot")

    raw = await client.get(
        f"/api/plants/{grid}/measurements/",
        params={**window, "resolution": "raw", "device_id": "shelly-pod"},
        headers=auth(OWNER),
    )
    first = raw.json()["data"][0]
    assert (first["energy_fed_in_kwh"], first["energy_withdrawn_kwh"]) == (0.4, 0.1)
    assert first["energy_produced_kwh"] is None

    answer = await client.get(
        f"/api/plants/{spec}/measurements/", params=window, headers=auth(OWNER)
    )
    [bucket] = answer.json()["data"]
    assert (bucket["energy_fed_in_kwh"], bucket["energy_withdrawn_kwh"]) == (2.0, 2.0)
    assert (bucket["exchange"], bucket["source"]) == ("derived", "iot")


async def test_official_exchange_posted_over_http_supersedes_iot(
    client: httpx.AsyncClient,
    store: InfluxTimeSeries,
    producer: AIOKafkaProducer,
    read_models: ReadModels,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    plant = new_plant_id()
    admin = 612
    await read_models.plant(plant, owner=OWNER, community=COMMUNITY)
    await read_models.member(admin, COMMUNITY, role="ADMIN")
    await send(
        producer,
        plant,
        "iot",
        *[Reading(device_id="m1", timestamp=at(q), energy_produced_kwh=1.0) for q in (1, 2, 3, 4)],
    )
    posted = await client.post(
        f"/api/plants/{plant}/measurements/",
        json={
            "source": "official",
            "readings": [
                {
                    "timestamp": at(4).isoformat(),
                    "energy_fed_in_kwh": 3.2,
                    "energy_withdrawn_kwh": 0.3,
                }
            ],
        },
        headers=auth(admin),
    )
    assert posted.status_code == 202, posted.text
    assert await publish(sessionmaker) == 1

    async def official_read() -> bool:
        answer = await client.get(
            f"/api/plants/{plant}/measurements/",
            params={"start": HOUR.isoformat(), "end": at(4).isoformat(), "resolution": "day"},
            headers=auth(OWNER),
        )
        data = answer.json()["data"]
        return bool(data) and data[0]["source"] == "official"

    await eventually(official_read, "the official figure read back")
    answer = await client.get(
        f"/api/plants/{plant}/measurements/",
        params={"start": HOUR.isoformat(), "end": at(4).isoformat(), "resolution": "hour"},
        headers=auth(OWNER),
    )
    [bucket] = answer.json()["data"]
    assert (bucket["energy_fed_in_kwh"], bucket["energy_withdrawn_kwh"]) == (3.2, 0.3)
    assert (bucket["energy_produced_kwh"], bucket["exchange"]) == (0.0, "measured")
    assert bucket["intervals_by_source"] == {"official": 1}
