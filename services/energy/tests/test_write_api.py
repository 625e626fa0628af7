"""POST of manual and official readings: through the outbox and Kafka into
InfluxDB like device data; bad input refused with the field, nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cerc_shared.events.economic import SettlementApproved
from cerc_shared.outbox import OutboxRelay
from cerc_shared.testing import eventually
from energy_service.models import outbox, reading_writes
from energy_service.timeseries import EnergyPoint, InfluxTimeSeries, SeriesQuery
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import BOOTSTRAP, ReadModels, auth, new_plant_id

OWNER, CER_ADMIN, COMMUNITY = 601, 602, 81


async def outbox_rows(maker: async_sessionmaker[AsyncSession]) -> list[Any]:
    async with maker() as session:
        return list((await session.execute(select(outbox.c.type, outbox.c.envelope))).all())


async def publish(maker: async_sessionmaker[AsyncSession]) -> int:
    """What the service's relay does after the commit, inside the test's transaction."""
    relay = OutboxRelay(maker, outbox, BOOTSTRAP, client_id="energy-tests-outbox")
    try:
        return await relay.publish_pending()
    finally:
        await relay.stop()


async def test_manual_and_official_readings_reach_influxdb_with_their_source(
    client: httpx.AsyncClient,
    store: InfluxTimeSeries,
    read_models: ReadModels,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    plant = new_plant_id()
    await read_models.plant(plant, owner=OWNER, community=COMMUNITY)
    await read_models.member(CER_ADMIN, COMMUNITY, role="ADMIN")
    # The device's estimate for 12:00-13:00 CEST on 2 June 2025.
    await store.write(
        [
            EnergyPoint(
                plant,
                "meter-1",
                "iot",
                datetime(2025, 6, 2, 11, 0, tzinfo=UTC),
                {"energy_produced_kwh": 3.0},
            )
        ]
    )
    manual = await client.post(
        f"/api/plants/{plant}/measurements/",
        json={
            "source": "manual",
            "readings": [
                {
                    "timestamp": "2025-06-02T14:00:00+02:00",
                    "energy_produced_kwh": 2.5,
                    "interval_s": 3600,
                },
                {
                    "timestamp": "2025-06-02T15:00:00+02:00",
                    "energy_produced_kwh": 2.0,
                    "interval_s": 3600,
                },
            ],
        },
        headers=auth(CER_ADMIN),
    )
    assert manual.status_code == 202, manual.text
    assert manual.json()["data"] | {"event_id": None} == {
        "event_id": None,
        "plant_id": plant,
        "source": "manual",
        "readings": 2,
    }
    official = await client.post(
        "/api/energy/measurements/",
        json={
            "plant_id": plant,
            "source": "official",
            "readings": [
                {
                    # A device that reports for this plant (or, absent, "official").
                    "device_id": "meter-1",
                    "timestamp": "2025-06-02T13:00:00+02:00",
                    "energy_produced_kwh": 2.8,
                }
            ],
        },
        headers={**auth(CER_ADMIN), "x-request-id": "gateway-request-7"},
    )
    assert official.status_code == 202, official.text

    # Each write audited: who, under which request id, what it posted, and
    # what was stored at those instants (the device's 3.0 the official figure outranks).
    async with sessionmaker() as session:
        audit = (await session.execute(select(reading_writes).order_by(reading_writes.c.id))).all()
    assert [(a.source, a.written_by, len(a.readings), a.replaced) for a in audit] == [
        ("manual", CER_ADMIN, 2, []),
        (
            "official",
            CER_ADMIN,
            1,
            [
                {
                    "timestamp": "2025-06-02T11:00:00+00:00",
                    "device_id": "meter-1",
                    "source": "iot",
                    "energy_produced_kwh": 3.0,
                }
            ],
        ),
    ]
    assert audit[1].correlation_id == "gateway-request-7"
    assert audit[1].readings[0]["energy_produced_kwh"] == 2.8

    rows = await outbox_rows(sessionmaker)
    assert [r.type for r in rows] == ["measurement.accepted", "measurement.accepted"]
    assert rows[0].envelope["producer"] == "energy"
    assert rows[0].envelope["data"]["readings"][0]["timestamp"] == "2025-06-02T12:00:00Z"
    assert await publish(sessionmaker) == 2

    day = {"start": "2025-06-02T00:00:00+02:00", "end": "2025-06-03T00:00:00+02:00"}

    async def all_stored() -> bool:
        _, total = await store.raw_page(
            SeriesQuery(
                start=datetime(2025, 6, 1, tzinfo=UTC),
                end=datetime(2025, 6, 4, tzinfo=UTC),
                plant_ids=[plant],
            ),
            offset=0,
            limit=1,
        )
        return total == 4

    await eventually(all_stored, "the posted readings ingested")
    raw = await client.get(f"/api/plants/{plant}/measurements/", params=day, headers=auth(OWNER))
    assert [(r["timestamp"], r["device_id"], r["source"]) for r in raw.json()["data"]] == [
        # Same instant and device: ordered by source.
        ("2025-06-02T11:00:00Z", "meter-1", "iot"),
        ("2025-06-02T11:00:00Z", "meter-1", "official"),
        ("2025-06-02T12:00:00Z", "manual", "manual"),
        ("2025-06-02T13:00:00Z", "manual", "manual"),
    ]
    hours = await client.get(
        f"/api/plants/{plant}/measurements/",
        params={**day, "resolution": "hour"},
        headers=auth(OWNER),
    )
    assert [(h["start"], h["energy_produced_kwh"], h["source"]) for h in hours.json()["data"]] == [
        ("2025-06-02T12:00:00+02:00", 2.8, "official"),  # supersedes the device's 3.0
        ("2025-06-02T13:00:00+02:00", 2.5, "manual"),
        ("2025-06-02T14:00:00+02:00", 2.0, "manual"),
    ]


def reading(**overrides: Any) -> dict[str, Any]:
    return {"timestamp": "2025-06-02T14:00:00+02:00", "energy_consumed_kwh": 1.5, **overrides}


async def test_bad_input_is_refused_with_the_field_and_nothing_is_written(
    client: httpx.AsyncClient,
    store: InfluxTimeSeries,
    read_models: ReadModels,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    plant, not_mine = new_plant_id(), new_plant_id()
    await read_models.plant(plant, owner=OWNER, community=COMMUNITY)
    await read_models.plant(not_mine, owner=OWNER + 50, community=COMMUNITY + 1)
    await read_models.member(CER_ADMIN, COMMUNITY, role="ADMIN")
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    path = f"/api/plants/{plant}/measurements/"

    def body(*readings: dict[str, Any], source: str = "manual") -> dict[str, Any]:
        return {"source": source, "readings": list(readings)}

    cases: list[tuple[str, dict[str, Any], int, str]] = [
        (path, body(reading(timestamp="2025-06-02T14:00:00")), 422, "readings.0.timestamp"),
        (
            path,
            body(reading(), reading(energy_produced_kwh=-0.1)),
            422,
            "readings.1.energy_produced_kwh",
        ),
        (path, body(reading(timestamp=future)), 422, "readings.0.timestamp"),
        (path, body(reading(timestamp="1999-12-31T23:00:00Z")), 422, "readings.0.timestamp"),
        (path, body({"timestamp": "2025-06-02T14:00:00Z"}), 422, "readings.0"),
        (path, body(reading(colour="green")), 422, "readings.0.colour"),
        (path, body(reading(device_id="bad id,with=commas")), 422, "readings.0.device_id"),
        (path, body(reading(power_factor=1.5)), 422, "readings.0.power_factor"),
        (path, body(), 422, "readings"),
        (
            path,
            body(
                *[
                    reading(timestamp=f"2025-06-02T14:{m % 60:02d}:{m // 60:02d}Z")
                    for m in range(1001)
                ]
            ),
            422,
            "readings",
        ),
        (
            path,
            body(reading(), reading(timestamp="2025-06-02T12:00:00Z")),
            422,
            "readings.1.timestamp",
        ),
        (path, body(reading(), source="iot"), 422, "source"),
        # Not the source's name nor a device of the plant: no new series (item 6).
        (path, body(reading(), reading(device_id="meter-9")), 422, "readings.1.device_id"),
        ("/api/energy/measurements/", body(reading()), 422, "plant_id"),
        (f"/api/plants/{not_mine}/measurements/", body(reading()), 404, ""),
        (f"/api/plants/{new_plant_id()}/measurements/", body(reading()), 404, ""),
    ]
    for url, payload, status, field in cases:
        response = await client.post(url, json=payload, headers=auth(CER_ADMIN))
        assert response.status_code == status, (field, response.text)
        error = response.json()["errors"][0]
        assert (error["field"] or "") == field, (field, response.text)
    # Manual and official readings outrank the meter: the plant's owner adds
    # neither, only the community's administrators do (issue 12, item 5).
    for source in ("manual", "official"):
        response = await client.post(path, json=body(reading(), source=source), headers=auth(OWNER))
        assert response.status_code == 403, response.text
        assert response.json()["errors"][0]["field"] == "source"

    assert await outbox_rows(sessionmaker) == []
    _, total = await store.raw_page(
        SeriesQuery(
            start=datetime(2000, 1, 1, tzinfo=UTC),
            end=datetime.now(UTC) + timedelta(days=1),
            plant_ids=[plant],
        ),
        offset=0,
        limit=1,
    )
    assert total == 0
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(outbox)) == 0
        assert await session.scalar(select(func.count()).select_from(reading_writes)) == 0


async def test_no_manual_or_official_reading_goes_into_a_settled_month(
    client: httpx.AsyncClient, read_models: ReadModels
) -> None:
    """Issue 12, item 5: the economic service's settlement.approved closes the
    community's month; readings into it would change what was paid."""
    plant = new_plant_id()
    await read_models.plant(plant, owner=OWNER, community=COMMUNITY)
    await read_models.member(CER_ADMIN, COMMUNITY, role="ADMIN")
    await read_models.deliver(
        SettlementApproved(
            run_id=plant, community_id=COMMUNITY, period="2025-05", kind="FINAL",
            approves_run_id=plant - 1, approved_by=CER_ADMIN, total_cents=100,
            community_cents=10, members=[],
        )
    )  # fmt: skip
    path = f"/api/plants/{plant}/measurements/"

    async def post(*stamps: str) -> httpx.Response:
        return await client.post(
            path,
            json={"source": "manual", "readings": [reading(timestamp=t) for t in stamps]},
            headers=auth(CER_ADMIN),
        )

    # 1 June 00:00 local ends the last interval of 31 May: still May.
    refused = await post("2025-04-30T23:00:00+02:00", "2025-06-01T00:00:00+02:00")
    assert refused.status_code == 409, refused.text
    assert refused.json()["errors"][0] | {"message": None} == {
        "code": "period_settled",
        "message": None,
        "field": "readings.1.timestamp",
        "expected": "a month not yet settled",
    }
    assert (await post("2025-04-30T23:00:00+02:00", "2025-06-01T00:15:00+02:00")).status_code == 202
