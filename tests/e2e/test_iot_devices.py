"""A device's life through Envoy and Mosquitto: a CER administrator registers
it and gets its MQTT credentials once; it publishes with them and its readings
reach Kafka for its plant; commands reach it and its ack is recorded; another
user sees nothing; once revoked it can no longer connect."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from cerc_shared.dev_tls import ensure_dev_pki

from .conftest import Fleet, bearer, device_tls, register_and_login


def _founder_with_plant(fleet: Fleet, run: str) -> tuple[dict[str, str], int]:
    gw = fleet.gateway
    founder = register_and_login(fleet, f"iot-owner-{run}")
    me = httpx.get(f"{gw}/api/users/me/", headers=bearer(founder)).json()["data"]
    shares = {"producers_pct": "55.00", "consumers_pct": "35.00", "community_fund_pct": "10.00"}
    community = httpx.post(
        f"{gw}/api/cer/",
        json={"name": f"CER iot {run}", "code": f"IOT{run}".upper(), "market_zone": "NORD",
              "distribution_shares": shares},
        headers=bearer(founder),
    )  # fmt: skip
    assert community.status_code == 201, community.text
    plant = httpx.post(
        f"{gw}/api/plants/",
        json={
            "cer_id": community.json()["data"]["id"], "owner_user_id": me["id"],
            "name": "Tetto via Verdi", "pod": f"IT001E{random.randrange(10**8):08d}",
            "plant_type": "PROSUMER", "nominal_power_kw": "6.00", "technology": "PV",
            "entry_into_service": "2024-06-01", "address": "Via Verdi 2", "city": "Bergamo",
            "province": "BG", "region": "Lombardia", "zip_code": "24121",
            "primary_substation": "AC001E04321", "market_zone": "NORD",
            "capital_grant_eur_per_kw": "0", "connection_voltage": "BT",
        },
        headers=bearer(founder),
    )  # fmt: skip
    assert plant.status_code == 201, plant.text
    return founder, int(plant.json()["data"]["id"])


def _register_device(fleet: Fleet, tokens: dict[str, str], plant_id: int) -> dict[str, Any]:
    """The IoT service learns of the plant from plant.v1: retry while it is unknown."""
    body = {"device_id": f"e2e-{uuid.uuid4().hex[:10]}", "plant_id": plant_id,
            "model": "Shelly Pro 3EM", "interval_s": 60}  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        response = httpx.post(
            f"{fleet.gateway}/api/iot/devices/", json=body, headers=bearer(tokens)
        )
        if response.status_code != 404 or time.monotonic() > deadline:
            assert response.status_code == 201, response.text
            data: dict[str, Any] = response.json()["data"]
            return data
        time.sleep(0.3)


async def _tail(topic: str) -> AIOKafkaConsumer:
    from cerc_shared.testing import ports

    consumer = AIOKafkaConsumer(
        bootstrap_servers=f"127.0.0.1:{ports()['KAFKA_PORT']}", enable_auto_commit=False
    )
    await consumer.start()
    parts = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or {0, 1, 2})]
    consumer.assign(parts)
    await consumer.seek_to_end(*parts)
    for part in parts:
        await consumer.position(part)
    return consumer


def test_a_device_provisioned_through_the_gateway_reports_and_obeys(fleet: Fleet) -> None:
    run = uuid.uuid4().hex[:8]
    founder, plant_id = _founder_with_plant(fleet, run)
    provisioned = _register_device(fleet, founder, plant_id)
    device, creds = provisioned["device"], provisioned["credentials"]
    device_id = device["device_id"]
    assert creds["username"] == f"dev-{device_id}" and creds["password"]
    # Devices are sent to the broker's TLS listener, never the plain one.
    assert creds["port"] == fleet.ports["MQTT_TLS_PORT"] != fleet.ports["MQTT_PORT"]
    assert creds["tls"] is True
    assert creds["ca_certificate"] == ensure_dev_pki().ca.read_text()
    # Nobody else is told the device exists.
    stranger = register_and_login(fleet, f"iot-stranger-{run}")
    path = f"{fleet.gateway}/api/iot/devices/{device_id}/"
    assert httpx.get(path, headers=bearer(stranger)).status_code == 404

    readings = asyncio.run(_report_and_obey(fleet, founder, plant_id, device_id, creds))
    assert {(r["plant_id"], r["source"]) for r in readings} == {(plant_id, "iot")}
    assert [r["energy_produced_kwh"] for r in readings] == [None, 0.4, 0.6]

    online = httpx.get(path, headers=bearer(founder)).json()["data"]
    assert online["status"] == "ONLINE" and online["last_seen"] is not None

    revoked = httpx.delete(path, headers=bearer(founder))
    assert revoked.status_code == 200 and revoked.json()["data"]["revoked"] is True
    assert asyncio.run(_connect_refused(device_id, creds))


async def _connect_refused(device_id: str, creds: dict[str, Any]) -> bool:
    try:
        async with aiomqtt.Client(
            "127.0.0.1",
            creds["port"],
            username=creds["username"],
            password=creds["password"],
            tls_context=device_tls(),
        ):
            return False
    except aiomqtt.MqttCodeError as refused:
        return refused.rc in (5, 135)


async def _report_and_obey(
    fleet: Fleet, founder: dict[str, str], plant_id: int, device_id: str, creds: dict[str, Any]
) -> list[dict[str, Any]]:
    """Publish three readings, take a command and ack it; return the readings seen on Kafka."""
    tail = await _tail(fleet.topic("measurement.v1"))
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    readings: list[dict[str, Any]] = []
    try:
        async with aiomqtt.Client(
            "127.0.0.1",
            creds["port"],
            username=creds["username"],
            password=creds["password"],
            tls_context=device_tls(),
        ) as mqtt:
            await mqtt.subscribe(creds["topics"]["commands"], qos=1)
            for i, kwh in enumerate((10.0, 10.4, 11.0)):
                body = {
                    "device_id": device_id,
                    "plant_id": plant_id,
                    "timestamp": (t0 + timedelta(minutes=i)).isoformat(),
                    "measurements": {"energy_produced": kwh, "power_produced": 2.5},
                }
                await mqtt.publish(creds["topics"]["measurements"], json.dumps(body), qos=1)
            async with httpx.AsyncClient(base_url=fleet.gateway, headers=bearer(founder)) as api:
                sent = await api.post(
                    f"/api/iot/devices/{device_id}/commands/", json={"command": "reboot"}
                )
                assert sent.status_code == 202, sent.text
                command_id = sent.json()["data"]["command_id"]
                async with asyncio.timeout(10):
                    async for message in mqtt.messages:
                        assert json.loads(message.payload)["command_id"] == command_id  # type: ignore[arg-type]
                        break
                ack = {"command_id": command_id, "result": "OK"}
                await mqtt.publish(creds["topics"]["acks"], json.dumps(ack), qos=1)
                async with asyncio.timeout(30):
                    while True:
                        shown = await api.get(
                            f"/api/iot/devices/{device_id}/commands/{command_id}/"
                        )
                        if shown.json()["data"]["status"] == "ACKED":
                            break
                        await asyncio.sleep(0.2)
        async with asyncio.timeout(60):
            while len(readings) < 3:
                batch = await tail.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        data = json.loads(record.value)["data"]
                        readings += [
                            {**r, "plant_id": data["plant_id"], "source": data["source"]}
                            for r in data["readings"]
                            if r["device_id"] == device_id
                        ]
    finally:
        await tail.stop()
    return readings
