"""A POD handed over between tenants, through Envoy and Mosquitto (issue 12, item 1).

Tenant A's plant (owned since 2025) reports through its meter; the plant
leaves A; tenant B founds a community and registers the same POD, so the CER
service gives it the same plant id. B's manager then sees the plant but none
of A's readings (raw, by hour, aggregated, as CSV), cannot reach A's meter
(credentials, commands: 404), and the meter's credentials no longer connect
to the broker. A's owner still reads A's history."""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import uuid
from typing import Any

import aiomqtt
import httpx

from .conftest import Fleet, bearer, register_and_login
from .test_cer_community import invite
from .test_energy_measurements import eventually

COMMUNITY_SHARES = {
    "producers_pct": "55.00",
    "consumers_pct": "35.00",
    "community_fund_pct": "10.00",
}
# A's readings: a day inside A's stay, long before the hand-over.
A_DAY = {"start": "2025-03-30T00:00:00+01:00", "end": "2025-03-31T00:00:00+02:00"}
A_MESSAGES = [("2025-03-30T08:45:00Z", 100.0, 40.0), ("2025-03-30T09:00:00Z", 101.25, 40.5)]


def _community(fleet: Fleet, founder: dict[str, str], name: str, code: str) -> int:
    created = httpx.post(
        f"{fleet.gateway}/api/cer/",
        json={"name": name, "code": code, "market_zone": "NORD",
              "distribution_shares": COMMUNITY_SHARES},
        headers=bearer(founder),
    )  # fmt: skip
    assert created.status_code == 201, created.text
    return int(created.json()["data"]["id"])


def _plant(cid: int, owner_id: int, pod: str, **extra: str) -> dict[str, Any]:
    return {
        "cer_id": cid, "owner_user_id": owner_id, "name": "Tetto via Dante", "pod": pod,
        "plant_type": "PROSUMER", "nominal_power_kw": "6.00", "technology": "PV",
        "entry_into_service": "2024-06-01", "address": "Via Dante 4", "city": "Bergamo",
        "province": "BG", "region": "Lombardia", "zip_code": "24121",
        "primary_substation": "AC001E04321", "market_zone": "NORD",
        "capital_grant_eur_per_kw": "0", "connection_voltage": "BT", **extra,
    }  # fmt: skip


def _user_id(fleet: Fleet, tokens: dict[str, str]) -> int:
    me = httpx.get(f"{fleet.gateway}/api/users/me/", headers=bearer(tokens))
    return int(me.json()["data"]["id"])


def _answer_tls(creds: dict[str, Any]) -> ssl.SSLContext:
    """The device trusts the CA its credentials came with, nothing else."""
    assert creds["tls"] is True and creds["ca_certificate"], creds
    return ssl.create_default_context(cadata=creds["ca_certificate"])


async def _publish(creds: dict[str, Any], device_id: str, plant_id: int) -> None:
    async with aiomqtt.Client(
        "127.0.0.1", creds["port"], username=creds["username"], password=creds["password"],
        tls_context=_answer_tls(creds),
    ) as client:  # fmt: skip
        for at, produced, consumed in A_MESSAGES:
            payload = {
                "device_id": device_id,
                "plant_id": plant_id,
                "timestamp": at,
                "measurements": {"energy_produced": produced, "energy_consumed": consumed},
            }
            await client.publish(creds["topics"]["measurements"], json.dumps(payload), qos=1)


async def _refused(creds: dict[str, Any]) -> bool:
    try:
        async with aiomqtt.Client(
            "127.0.0.1", creds["port"], username=creds["username"], password=creds["password"],
            tls_context=_answer_tls(creds),
        ):  # fmt: skip
            return False
    except aiomqtt.MqttCodeError as refused:
        return refused.rc in (5, 135)


def test_the_next_tenant_of_a_pod_sees_nothing_of_the_previous_one(fleet: Fleet) -> None:
    gw, run = fleet.gateway, uuid.uuid4().hex[:8]
    pod = f"IT001E{random.randrange(10**8):08d}"

    # Tenant A: a manager, and an owner who joined in 2025 with the plant.
    manager_a = register_and_login(fleet, f"handover-a-{run}")
    owner_a = register_and_login(fleet, f"handover-owner-{run}")
    cid_a = _community(fleet, manager_a, f"CER A {run}", f"HA{run}".upper())
    invite(fleet, manager_a, cid_a, f"handover-owner-{run}", owner_a)
    registered = httpx.post(
        f"{gw}/api/plants/",
        json=_plant(cid_a, _user_id(fleet, owner_a), pod, valid_from="2025-03-01"),
        headers=bearer(manager_a),
    )
    assert registered.status_code == 201, registered.text
    plant_id = int(registered.json()["data"]["id"])

    device_id = f"handover-{run}"
    provisioned = eventually(
        lambda: httpx.post(
            f"{gw}/api/iot/devices/",
            json={"device_id": device_id, "plant_id": plant_id, "model": "spec", "interval_s": 900},
            headers=bearer(manager_a),
        ),
        lambda r: r.status_code != 404,  # until the IoT service has heard of the plant
        "the plant known to the IoT service",
    )
    assert provisioned.status_code == 201, provisioned.text
    creds = provisioned.json()["data"]["credentials"]
    asyncio.run(_publish(creds, device_id, plant_id))
    raw_path = f"{gw}/api/plants/{plant_id}/measurements/"
    # Filtered by the meter: the e2e database starts afresh (plant ids again
    # from 1) but InfluxDB keeps earlier runs' readings.
    meter = {**A_DAY, "device_id": device_id}
    eventually(
        lambda: httpx.get(raw_path, params=meter, headers=bearer(owner_a)),
        lambda r: r.status_code == 200 and r.json()["meta"]["total"] >= 1,
        "A's reading readable by A's owner",
        timeout_s=90,
    )

    # The plant leaves A (today): its meter is revoked at once.
    left = httpx.delete(f"{gw}/api/plants/{plant_id}/", headers=bearer(manager_a))
    assert left.status_code == 200, left.text
    device_path = f"{gw}/api/iot/devices/{device_id}/"
    eventually(
        lambda: httpx.get(device_path, headers=bearer(manager_a)),
        lambda r: r.status_code == 200 and r.json()["data"]["status"] == "REVOKED",
        "the meter revoked once its plant left",
    )
    assert asyncio.run(_refused(creds)), "the revoked meter's credentials still connect"

    # Tenant B registers the same POD: the same plant, now B's.
    manager_b = register_and_login(fleet, f"handover-b-{run}")
    cid_b = _community(fleet, manager_b, f"CER B {run}", f"HB{run}".upper())
    again = httpx.post(
        f"{gw}/api/plants/", json=_plant(cid_b, _user_id(fleet, manager_b), pod),
        headers=bearer(manager_b),
    )  # fmt: skip
    assert again.status_code == 201, again.text
    assert int(again.json()["data"]["id"]) == plant_id

    # Once energy knows B's stay, B reads the plant (200, not 404) and finds
    # nothing of A's day.
    mine = eventually(
        lambda: httpx.get(raw_path, params=A_DAY, headers=bearer(manager_b)),
        lambda r: r.status_code == 200,
        "B's stay known to the energy service",
    )
    assert mine.json()["meta"]["total"] == 0, mine.text
    hourly = httpx.get(
        f"{gw}/api/energy/measurements/",
        params={**A_DAY, "plant_id": plant_id, "resolution": "hour"},
        headers=bearer(manager_b),
    )
    assert hourly.status_code == 200 and hourly.json()["data"] == [], hourly.text
    day: dict[str, str | int] = {**A_DAY, "resolution": "day"}
    by_plant = {**day, "by": "plant", "plant_id": plant_id}
    aggregated = httpx.get(
        f"{gw}/api/energy/aggregations/", params=by_plant, headers=bearer(manager_b)
    )
    assert aggregated.status_code == 200, aggregated.text
    assert all(b["produced_kwh"] in (None, 0) for b in aggregated.json()["data"]), aggregated.text
    by_community = {**day, "by": "community", "community_id": cid_b}
    exported = httpx.get(
        f"{gw}/api/energy/aggregations/",
        params={**by_community, "format": "csv"},
        headers=bearer(manager_b),
    )
    assert exported.status_code == 200, exported.text
    assert "1.25" not in exported.text and "0.5" not in exported.text, exported.text
    exported_plant = httpx.get(
        f"{gw}/api/energy/aggregations/",
        params={**by_plant, "format": "csv"},
        headers=bearer(manager_b),
    )
    assert exported_plant.status_code == 200, exported_plant.text
    assert "1.25" not in exported_plant.text, exported_plant.text

    # A's meter is not B's to manage, nor even to see.
    assert httpx.get(device_path, headers=bearer(manager_b)).status_code == 404
    rotate = httpx.post(f"{device_path}credentials/", headers=bearer(manager_b))
    assert rotate.status_code == 404, rotate.text
    command = httpx.post(
        f"{device_path}commands/", json={"command": "reboot"}, headers=bearer(manager_b)
    )
    assert command.status_code == 404, command.text

    # A's owner still reads A's history: the readings exist, B just never sees them.
    theirs = httpx.get(raw_path, params=meter, headers=bearer(owner_a))
    assert theirs.status_code == 200 and theirs.json()["meta"]["total"] == 1, theirs.text
