"""Fuzz the iot and energy services through the gateway (item 13 of issue 12),
with a valid token and a real community, plant and device so generated ids
reach real rows too; and integer ids beyond PostgreSQL's BIGINT are a 422
naming the field, never a 500 (item 11)."""

from __future__ import annotations

import time

import httpx
import pytest

from .openapi_fuzz import access_token, assert_no_5xx, fuzz

TOO_BIG = 2**63  # one beyond BIGINT


@pytest.fixture(scope="module")
def seeded(ports: dict[str, int]) -> tuple[str, int]:
    """The fuzzer's token and its plant (with a device)."""
    token = access_token(ports, "iot-energy-fuzzer")
    auth = {"Authorization": f"Bearer {token}"}
    cer = f"http://127.0.0.1:{ports['CER_PORT']}"
    me = httpx.get(f"http://127.0.0.1:{ports['USER_PORT']}/api/users/me/", headers=auth)
    shares = {"producers_pct": "50", "consumers_pct": "40", "community_fund_pct": "10"}
    community = httpx.post(
        f"{cer}/api/cer/", headers=auth,
        json={"name": "Fuzz IoT", "code": "FUZZIOT", "market_zone": "NORD",
              "distribution_shares": shares},
    )  # fmt: skip
    assert community.status_code == 201, community.text
    plant = httpx.post(
        f"{cer}/api/plants/", headers=auth,
        json={
            "cer_id": community.json()["data"]["id"], "owner_user_id": me.json()["data"]["id"],
            "name": "Fuzz", "pod": "IT001E55500011", "plant_type": "PROSUMER",
            "nominal_power_kw": "6.00", "technology": "PV", "entry_into_service": "2024-06-01",
            "address": "Via Roma 1", "city": "Bergamo", "province": "BG", "region": "Lombardia",
            "zip_code": "24121", "primary_substation": "AC001E04321", "market_zone": "NORD",
            "connection_voltage": "BT",
        },
    )  # fmt: skip
    assert plant.status_code == 201, plant.text
    plant_id = plant.json()["data"]["id"]
    # The iot service learns of the plant from plant.v1: retry while it is unknown.
    iot = f"http://127.0.0.1:{ports['IOT_PORT']}"
    body = {"device_id": "fuzz-meter-1", "plant_id": plant_id, "model": "Shelly Pro 3EM"}
    deadline = time.monotonic() + 60
    while (
        device := httpx.post(f"{iot}/api/iot/devices/", headers=auth, json=body)
    ).status_code == 404:
        assert time.monotonic() < deadline, device.text
        time.sleep(0.3)
    assert device.status_code == 201, device.text
    return token, plant_id


@pytest.fixture(scope="module")
def token(seeded: tuple[str, int]) -> str:
    return seeded[0]


def test_iot_service_openapi_has_no_5xx(ports: dict[str, int], token: str) -> None:
    assert_no_5xx(fuzz(ports, "iot", token, max_examples=15))


def test_energy_service_openapi_has_no_5xx(ports: dict[str, int], token: str) -> None:
    assert_no_5xx(fuzz(ports, "energy", token, max_examples=15))


@pytest.mark.parametrize(
    ("service", "method", "path", "field"),
    [
        ("ENERGY", "GET", f"/api/plants/{TOO_BIG}/measurements/", "plant_id"),
        ("ENERGY", "GET", f"/api/energy/measurements/?plant_id={TOO_BIG}", "plant_id"),
        ("ENERGY", "GET", f"/api/energy/imports/{TOO_BIG}/", "import_id"),
        ("ENERGY", "GET", f"/api/energy/imports/?community_id={TOO_BIG}", "community_id"),
        ("ENERGY", "GET", f"/api/energy/completeness/?community_id={TOO_BIG}&month=2025-01",
         "community_id"),
        ("ENERGY", "GET", f"/api/energy/aggregations/?by=community&community_id={TOO_BIG}",
         "community_id"),
        ("IOT", "GET", f"/api/iot/devices/?plant_id={TOO_BIG}", "plant_id"),
        ("ENERGY", "GET", f"/api/energy/live/?community_id={TOO_BIG}", "community_id"),
        # Found by the fuzzer: InfluxDB cannot hold instants before 1677 (a 500).
        ("ENERGY", "GET",
         "/api/plants/{plant_id}/measurements/?end=0624-08-11T01%3A34%3A57-14%3A02", "end"),
        ("ENERGY", "GET", "/api/energy/aggregations/?by=community&community_id=1"
         "&start=0001-01-01T00%3A00%3A00Z&end=0001-01-02T00%3A00%3A00Z", "start"),
    ],
)  # fmt: skip
def test_an_id_beyond_bigint_is_refused_not_a_500(
    ports: dict[str, int],
    seeded: tuple[str, int],
    service: str,
    method: str,
    path: str,
    field: str,
) -> None:
    token, plant_id = seeded
    response = httpx.request(
        method, f"http://127.0.0.1:{ports[f'{service}_PORT']}{path.format(plant_id=plant_id)}",
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_a_body_plant_id_beyond_bigint_is_refused_not_a_500(
    ports: dict[str, int], token: str
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    device = httpx.post(
        f"http://127.0.0.1:{ports['IOT_PORT']}/api/iot/devices/", headers=auth,
        json={"device_id": "fuzz-meter-2", "plant_id": TOO_BIG, "model": "X"},
    )  # fmt: skip
    assert device.status_code == 422, device.text
    readings = httpx.post(
        f"http://127.0.0.1:{ports['ENERGY_PORT']}/api/energy/measurements/", headers=auth,
        json={"plant_id": TOO_BIG, "source": "manual",
              "readings": [{"timestamp": "2025-01-01T01:00:00+00:00",
                            "energy_consumed_kwh": 1.0}]},
    )  # fmt: skip
    assert readings.status_code == 422, readings.text
    assert "plant_id" in {e["field"] for e in readings.json()["errors"]}
