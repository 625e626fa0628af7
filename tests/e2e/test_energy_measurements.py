"""Readings end to end through the gateway: a plant registered with the CER
service reaches the energy service's read model over plant.v1; its owner posts
manual readings (outbox -> measurement.v1 -> ingestion -> InfluxDB) and reads
them back per local hour and day; someone else gets 404. And a device
publishing through Mosquitto, read back through the gateway."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from typing import Any

import aiomqtt
import httpx

from .conftest import Fleet, bearer, device_tls, register_and_login


def eventually(fetch: Any, done: Any, what: str, timeout_s: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    response = fetch()
    while not done(response):
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened within {timeout_s}s: {what}: {response.text}")
        time.sleep(0.2)
        response = fetch()
    return response


def community_with_plant(fleet: Fleet, run: str) -> tuple[dict[str, str], int]:
    """A community founded (so administered) by a new user, and that user's plant."""
    gw = fleet.gateway
    owner = register_and_login(fleet, f"energy-owner-{run}")
    me = httpx.get(f"{gw}/api/users/me/", headers=bearer(owner)).json()["data"]

    community = httpx.post(
        f"{gw}/api/cer/",
        json={
            "name": f"CER energia {run}",
            "code": f"EN{run}".upper(),
            "market_zone": "NORD",
            "distribution_shares": {
                "producers_pct": "55.00",
                "consumers_pct": "35.00",
                "community_fund_pct": "10.00",
            },
        },
        headers=bearer(owner),
    )
    assert community.status_code == 201, community.text
    # The founder is the community's first administrator and a member.
    plant = httpx.post(
        f"{gw}/api/plants/",
        json={
            "cer_id": community.json()["data"]["id"],
            "owner_user_id": me["id"],
            "name": "Tetto via Roma",
            "pod": f"IT001E{random.randrange(10**8):08d}",
            "plant_type": "PROSUMER",
            "nominal_power_kw": "6.00",
            "technology": "PV",
            "entry_into_service": "2024-06-01",
            "address": "Via Roma 1",
            "city": "Milano",
            "province": "MI",
            "region": "Lombardia",
            "zip_code": "20121",
            "primary_substation": "AC001E01234",
            "market_zone": "NORD",
            "capital_grant_eur_per_kw": "0",
            "connection_voltage": "BT",
        },
        headers=bearer(owner),
    )
    assert plant.status_code == 201, plant.text
    return owner, int(plant.json()["data"]["id"])


def test_manual_readings_through_the_gateway(fleet: Fleet) -> None:
    gw = fleet.gateway
    run = uuid.uuid4().hex[:6]
    owner, plant_id = community_with_plant(fleet, run)
    stranger = register_and_login(fleet, f"energy-stranger-{run}")
    path = f"{gw}/api/plants/{plant_id}/measurements/"
    # Manual readings carry the source's name as device id (no free-text series);
    # the plant is new to this run, so its manual readings are this run's.
    device = "manual"
    day = {
        "start": "2025-03-30T00:00:00+01:00",
        "end": "2025-03-31T00:00:00+02:00",
        "device_id": device,
    }

    # The energy service learns of the plant from plant.v1.
    eventually(
        lambda: httpx.get(path, params=day, headers=bearer(owner)),
        lambda r: r.status_code == 200,
        "the plant known to the energy service",
    )
    readings = [
        # 01:00-02:00 CET, then (the clock jumps) 03:00-04:00 CEST: consecutive hours.
        {"device_id": device, "timestamp": "2025-03-30T02:00:00+01:00", "energy_consumed_kwh": 0.6},
        {"device_id": device, "timestamp": "2025-03-30T04:00:00+02:00", "energy_consumed_kwh": 0.4},
        {"device_id": device, "timestamp": "2025-03-30T12:00:00+02:00", "energy_produced_kwh": 2.5},
    ]
    accepted = httpx.post(
        path, json={"source": "manual", "readings": readings}, headers=bearer(owner)
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["data"]["readings"] == 3

    hours = eventually(
        lambda: httpx.get(path, params={**day, "resolution": "hour"}, headers=bearer(owner)),
        lambda r: r.status_code == 200 and r.json()["meta"]["total"] == 3,
        "the posted readings readable",
    )
    assert [
        (h["start"], h["energy_consumed_kwh"], h["energy_produced_kwh"], h["source"], h["plant_id"])
        for h in hours.json()["data"]
    ] == [
        ("2025-03-30T01:00:00+01:00", 0.6, 0.0, "manual", plant_id),
        ("2025-03-30T03:00:00+02:00", 0.4, 0.0, "manual", plant_id),
        ("2025-03-30T11:00:00+02:00", 0.0, 2.5, "manual", plant_id),
    ]
    days = httpx.get(
        f"{gw}/api/energy/measurements/",
        params={**day, "resolution": "day", "plant_id": plant_id},
        headers=bearer(owner),
    )
    assert days.status_code == 200, days.text
    assert [
        (d["start"], d["end"], d["energy_consumed_kwh"], d["energy_produced_kwh"], d["source"])
        for d in days.json()["data"]
    ] == [("2025-03-30T00:00:00+01:00", "2025-03-31T00:00:00+02:00", 1.0, 2.5, "manual")]

    hidden = httpx.get(path, params=day, headers=bearer(stranger))
    assert hidden.status_code == 404
    refused = httpx.post(
        path, json={"source": "manual", "readings": readings}, headers=bearer(stranger)
    )
    assert refused.status_code == 404
    future = httpx.post(
        path,
        json={
            "source": "manual",
            "readings": [{"timestamp": "2999-01-01T00:00:00Z", "energy_consumed_kwh": 1}],
        },
        headers=bearer(owner),
    )
    assert future.status_code == 422
    assert future.json()["errors"][0]["field"] == "readings.0.timestamp"


def test_a_device_reading_through_mosquitto_is_readable_through_the_gateway(fleet: Fleet) -> None:
    """Device -> Mosquitto -> IoT bridge -> measurement.v1 -> energy -> InfluxDB -> gateway."""
    gw = fleet.gateway
    run = uuid.uuid4().hex[:6]
    owner, plant_id = community_with_plant(fleet, run)
    device_id = f"meter-{run}"
    provisioned = eventually(
        lambda: httpx.post(
            f"{gw}/api/iot/devices/",
            json={"device_id": device_id, "plant_id": plant_id, "model": "spec", "interval_s": 900},
            headers=bearer(owner),
        ),
        lambda r: r.status_code != 404,  # until the IoT service has heard of the plant
        "the plant known to the IoT service",
    )
    assert provisioned.status_code == 201, provisioned.text
    mqtt = provisioned.json()["data"]["credentials"]

    # Cumulative registers: the first message is the baseline, the second
    # carries the interval's energy (0.5 kWh consumed, 1.25 kWh produced).
    messages = [
        ("2025-03-30T08:45:00Z", 100.0, 40.0),
        ("2025-03-30T09:00:00Z", 101.25, 40.5),
    ]

    async def publish() -> None:
        async with aiomqtt.Client(
            mqtt["host"],
            mqtt["port"],
            username=mqtt["username"],
            password=mqtt["password"],
            tls_context=device_tls(),
        ) as client:
            for at, produced, consumed in messages:
                payload = {
                    "device_id": device_id,
                    "plant_id": plant_id,
                    "timestamp": at,
                    "measurements": {"energy_produced": produced, "energy_consumed": consumed},
                }
                await client.publish(mqtt["topics"]["measurements"], json.dumps(payload), qos=1)

    asyncio.run(publish())
    day = {"start": "2025-03-30T00:00:00+01:00", "end": "2025-03-31T00:00:00+02:00"}
    raw = eventually(
        lambda: httpx.get(
            f"{gw}/api/plants/{plant_id}/measurements/",
            params={**day, "device_id": device_id},
            headers=bearer(owner),
        ),
        lambda r: r.status_code == 200 and r.json()["meta"]["total"] >= 1,
        "the device's reading readable through the gateway",
        timeout_s=90,
    )
    [reading] = raw.json()["data"]
    assert (reading["plant_id"], reading["device_id"], reading["source"]) == (
        plant_id,
        device_id,
        "iot",
    )
    assert reading["timestamp"] == "2025-03-30T09:00:00Z"
    assert (reading["energy_produced_kwh"], reading["energy_consumed_kwh"]) == (1.25, 0.5)
    hour = httpx.get(
        f"{gw}/api/energy/measurements/",
        params={**day, "plant_id": plant_id, "resolution": "hour", "device_id": device_id},
        headers=bearer(owner),
    )
    assert [(h["start"], h["energy_produced_kwh"], h["source"]) for h in hour.json()["data"]] == [
        ("2025-03-30T10:00:00+02:00", 1.25, "iot")
    ]
