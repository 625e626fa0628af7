"""The GSE simulator over real HTTP, against the one `make infra-up` started (infra/gse-sim.sh).

Each test registers its own OAuth client through the admin API and its own configurations, so
tests and a developer's `make dev` do not see each other's data. Faults that act on every
caller (5xx, slow answers) are switched off again before the test ends.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from cacer import Plant
from cacer.advance import monthly_advance_cents
from cacer.parameters import Technology

ROOT = Path(__file__).resolve().parents[3]
ROME = ZoneInfo("Europe/Rome")
ADMIN_TOKEN = os.environ.get("GSE_SIM_ADMIN_TOKEN", "gse_sim_admin_dev")


def _port() -> int:
    for line in (ROOT / "infra" / "ports.env").read_text().splitlines():
        key, _, value = line.strip().partition("=")
        if key == "GSE_SIM_PORT":
            return int(value)
    raise RuntimeError("GSE_SIM_PORT is not in infra/ports.env")


# GSE_SIM_URL: another simulator than the one infra/gse-sim.sh started (e.g. a private one).
BASE = os.environ.get("GSE_SIM_URL", f"http://127.0.0.1:{_port()}")


@pytest.fixture(scope="module")
def admin() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=BASE, headers={"X-Admin-Token": ADMIN_TOKEN}, timeout=30) as c:
        try:
            c.get("/health").raise_for_status()
        except httpx.HTTPError as e:
            pytest.fail(f"the GSE simulator is not running on {BASE} (run `make infra-up`): {e}")
        yield c


def _new_client(admin: httpx.Client, **limits: int) -> tuple[str, str]:
    client_id, secret = f"test-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    created = admin.post(
        "/admin/clients", json={"client_id": client_id, "client_secret": secret, **limits}
    )
    assert created.status_code == 201, created.text
    return client_id, secret


def _token(client_id: str, secret: str) -> str:
    response = httpx.post(
        f"{BASE}/gse/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    return str(body["access_token"])


def _referente(admin: httpx.Client, **limits: int) -> httpx.Client:
    token = _token(*_new_client(admin, **limits))
    return httpx.Client(base_url=BASE, headers={"Authorization": f"Bearer {token}"}, timeout=60)


@pytest.fixture
def gse(admin: httpx.Client) -> Iterator[httpx.Client]:
    with _referente(admin) as c:
        yield c


def _configuration(gse: httpx.Client, name: str = "CER di prova") -> str:
    response = gse.post(
        "/gse/api/v1/configurations/", json={"code": uuid.uuid4().hex[:10], "name": name}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _register(gse: httpx.Client, configuration_id: str, point: dict[str, Any]) -> dict[str, Any]:
    body = {"configuration_id": configuration_id, **point}
    response = gse.post("/gse/api/v1/plants/", json=body)
    assert response.status_code == 201, response.text
    registered: dict[str, Any] = response.json()
    return registered


def _hours(month: date) -> list[datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=ROME).astimezone(UTC)
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    end = datetime(following.year, following.month, 1, tzinfo=ROME).astimezone(UTC)
    return [start + timedelta(hours=h) for h in range(int((end - start).total_seconds()) // 3600)]


def _iso(instant: datetime) -> str:
    return instant.astimezone(ROME).isoformat()


def _post_readings(gse: httpx.Client, configuration_id: str, readings: list[dict[str, Any]]) -> Any:
    response = gse.post(
        "/gse/api/v1/measurements/",
        json={"configuration_id": configuration_id, "readings": readings},
    )
    assert response.status_code == 201, response.text
    return response.json()


def _result(gse: httpx.Client, configuration_id: str, month: str) -> dict[str, Any]:
    response = gse.get(f"/gse/api/v1/configurations/{configuration_id}/results/{month}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _cents(value: float | str) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _kwh(value: float | str) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.001"))


# OAuth 2.0 client credentials ---------------------------------------------------------------


def test_token_flow_and_access_without_a_token(admin: httpx.Client) -> None:
    client_id, secret = _new_client(admin, token_ttl_s=1)
    token_url = f"{BASE}/gse/oauth/token"
    wrong = httpx.post(
        token_url,
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"},
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    grant = httpx.post(token_url, data={"grant_type": "password", "client_id": client_id})
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    basic = httpx.post(
        token_url, data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert basic.status_code == 200 and basic.json()["expires_in"] == 1

    configurations = f"{BASE}/gse/api/v1/configurations/"
    anonymous = httpx.get(configurations)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    bogus = httpx.get(configurations, headers={"Authorization": "Bearer not-a-token"})
    assert bogus.status_code == 401 and bogus.json()["error"]["code"] == "invalid_token"
    token = basic.json()["access_token"]
    allowed = httpx.get(configurations, headers={"Authorization": f"Bearer {token}"})
    assert allowed.status_code == 200 and allowed.json()["items"] == []
    time.sleep(1.1)
    expired = httpx.get(configurations, headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "invalid_token"


def test_admin_api_needs_the_admin_token(admin: httpx.Client) -> None:
    assert httpx.post(f"{BASE}/admin/reset").status_code == 401
    wrong = {"X-Admin-Token": "guess"}
    assert httpx.put(f"{BASE}/admin/faults/delay", json={"seconds": 1}, headers=wrong).is_error


def test_another_referentes_configuration_is_not_found(admin: httpx.Client) -> None:
    with _referente(admin) as owner, _referente(admin) as stranger:
        configuration_id = _configuration(owner)
        paths = [
            f"/gse/api/v1/configurations/{configuration_id}",
            f"/gse/api/v1/payments/?configuration_id={configuration_id}",
            f"/gse/api/v1/measurements/?configuration_id={configuration_id}",
            f"/gse/api/v1/plants/?configuration_id={configuration_id}",
        ]
        for path in paths:
            assert owner.get(path).status_code == 200, path
            assert stranger.get(path).status_code == 404, path
        point = {"pod": "IT001E00000001", "substation": "AC001E00001", "zone": "NORD"}
        foreign = stranger.post(
            "/gse/api/v1/plants/", json={"configuration_id": configuration_id, **point}
        )
        assert foreign.status_code == 404
        assert stranger.get("/gse/api/v1/configurations/").json()["total"] == 0


# Results from the measurements, to the cent --------------------------------------------------

MARCH_2024 = date(2024, 3, 1)  # 743 hours: summer time starts on the 31st
POINTS: list[dict[str, Any]] = [
    {
        "pod": "IT001E00000101",
        "substation": "AC001E10001",
        "zone": "CSUD",
        "plant": {
            "power_kw": 40,
            "technology": "PV",
            "region": "Lazio",
            "entry_into_service": "2023-03-01",
        },
    },
    {
        "pod": "IT001E00000102",
        "substation": "AC001E10001",
        "zone": "CSUD",
        "plant": {
            "power_kw": 120,
            "technology": "PV",
            "region": "Lazio",
            "entry_into_service": "2022-06-01",
            "capital_grant_eur_per_kw": 300,
        },
    },
    {"pod": "IT001E00000103", "substation": "AC001E10001", "zone": "CSUD", "public_body": True},
    {"pod": "IT001E00000104", "substation": "AC001E10001", "zone": "CSUD"},
    {
        "pod": "IT001E00000105",
        "substation": "AC001E10002",
        "zone": "CSUD",
        "plant": {
            "power_kw": 30,
            "technology": "WIND",
            "region": "Lazio",
            "entry_into_service": "2020-05-01",
        },
    },
    {"pod": "IT001E00000106", "substation": "AC001E10002", "zone": "CSUD"},
]


def _march_readings() -> list[dict[str, Any]]:
    rng = random.Random(20240301)
    readings = []
    for hour in _hours(MARCH_2024):
        local = hour.astimezone(ROME).hour
        sun = max(0.0, 1 - abs(local - 13) / 6)
        for point in POINTS:
            pod, plant = point["pod"], point.get("plant")
            if pod == "IT001E00000104":  # a 15-minute meter
                for quarter in range(4):
                    readings.append(
                        {
                            "pod": pod,
                            "start": _iso(hour + timedelta(minutes=15 * quarter)),
                            "minutes": 15,
                            "fed_in_kwh": 0,
                            "withdrawn_kwh": round(rng.uniform(0.1, 2.5), 3),
                        }
                    )
                continue
            fed_in = 0.0
            if plant and plant["technology"] == "PV":
                fed_in = round(plant["power_kw"] * sun * rng.uniform(0.3, 0.8), 3)
            elif plant:
                fed_in = round(rng.uniform(0, 20), 3)
            withdrawn = round(rng.uniform(0.2, 6.0 if plant is None else 1.0), 3)
            readings.append(
                {
                    "pod": pod,
                    "start": _iso(hour),
                    "minutes": 60,
                    "fed_in_kwh": fed_in,
                    "withdrawn_kwh": withdrawn,
                }
            )
    return readings


def _march_prices() -> list[dict[str, Any]]:
    # Above and below the TIP's 180 EUR/MWh reference, with decimals the engine keeps.
    return [
        {"zone": "CSUD", "hour": _iso(hour), "eur_mwh": 60 + (h * 37) % 150 + 0.123456}
        for h, hour in enumerate(_hours(MARCH_2024))
    ]


def _cer_settle(readings: list[dict[str, Any]], tmp_path: Path) -> dict[str, Any]:
    scenario = {
        "period": {"start": "2024-03-01", "end": "2024-04-01"},
        "members": [{"id": p["pod"], "public_body": p.get("public_body", False)} for p in POINTS],
        "points": [
            {k: v for k, v in {**p, "member": p["pod"]}.items() if k != "public_body"}
            for p in POINTS
        ],
        "prices": _march_prices(),
        "readings": readings,
        "distribution": {"producers": 0.5, "consumers": 0.5, "community": 0},
    }
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))
    cer = Path(sys.executable).parent / "cer"
    run = subprocess.run(
        [str(cer), "settle", "--input", str(path), "--hours"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    settled: dict[str, Any] = json.loads(run.stdout)
    return settled


def test_result_from_posted_measurements_equals_cer_settle(
    admin: httpx.Client, gse: httpx.Client, tmp_path: Path
) -> None:
    loaded = admin.put("/admin/prices", json={"prices": _march_prices()})
    assert loaded.status_code == 200 and loaded.json()["loaded"] == 743
    configuration_id = _configuration(gse)
    for point in POINTS:
        _register(gse, configuration_id, point)
    readings = _march_readings()
    submitted = _post_readings(gse, configuration_id, readings)
    assert submitted["created"] == len(readings) and submitted["months"] == ["2024-03"]

    result = _result(gse, configuration_id, "2024-03")
    expected = _cer_settle(readings, tmp_path)

    assert result["parameters"]["trase_eur_mwh"] == "10.57"
    totals = result["totals"]
    for field in ("incentive_eur", "refund_eur", "total_eur", "excess_eur"):
        assert Decimal(totals[field]) == _cents(expected[field]), field
    for field in ("shared_energy_kwh", "incentivised_shared_energy_kwh"):
        assert Decimal(totals[field]) == _kwh(expected[field]), field
    assert Decimal(totals["incentive_eur"]) > 0 and Decimal(totals["excess_eur"]) >= 0

    by_code = {s["code"]: s for s in result["substations"]}
    assert set(by_code) == {s["code"] for s in expected["substations"]}
    for sub in expected["substations"]:
        mine = by_code[sub["code"]]
        for field in ("incentive_eur", "refund_eur"):
            assert Decimal(mine[field]) == _cents(sub[field]), (sub["code"], field)
        for field in ("fed_in_kwh", "withdrawn_kwh", "shared_energy_kwh"):
            assert Decimal(mine[field]) == _kwh(sub[field]), (sub["code"], field)

    by_pod = {p["pod"]: p for p in result["points"]}
    assert set(by_pod) == {p["pod"] for p in POINTS}
    for plant in expected["plants"]:
        mine = by_pod[plant["pod"]]
        assert mine["kind"] == "PRODUCTION"
        for field in ("incentive_eur", "refund_eur"):
            assert Decimal(mine[field]) == _cents(plant[field]), (plant["pod"], field)
        for field in ("fed_in_kwh", "shared_energy_kwh"):
            assert Decimal(mine[field]) == _kwh(plant[field]), (plant["pod"], field)
    # The existing wind plant (in service before 2021-12-16) earns the refund only.
    assert Decimal(by_pod["IT001E00000105"]["incentive_eur"]) == 0
    assert Decimal(by_pod["IT001E00000105"]["refund_eur"]) > 0

    hours = gse.get(
        f"/gse/api/v1/configurations/{configuration_id}/results/2024-03/hours",
        params={"page_size": 1000},
    ).json()
    assert hours["total"] == 743 and hours["result_id"] == result["id"]
    for mine, theirs in zip(hours["items"], expected["hours"], strict=True):
        assert mine["hour"] == theirs["hour"]
        for sub_mine, sub_theirs in zip(mine["substations"], theirs["substations"], strict=True):
            assert sub_mine["code"] == sub_theirs["code"]
            for field in ("fed_in_kwh", "withdrawn_kwh", "shared_energy_kwh"):
                assert Decimal(sub_mine[field]) == _kwh(sub_theirs[field]), (mine["hour"], field)
        assert {p["pod"]: Decimal(p["shared_energy_kwh"]) for p in mine["plants"]} == {
            p["pod"]: _kwh(p["shared_energy_kwh"]) for p in theirs["plants"]
        }, mine["hour"]


# Faults: the configuration's own (a dropped POD, eligibility, TRASe, late publication) --------

FEBRUARY_POINTS = [
    {
        "pod": "IT002E00000201",
        "substation": "AC002E20001",
        "zone": "NORD",
        "plant": {
            "power_kw": 20,
            "technology": "PV",
            "region": "Piemonte",
            "entry_into_service": "2023-05-01",
        },
    },
    {"pod": "IT002E00000202", "substation": "AC002E20001", "zone": "NORD"},
    {"pod": "IT002E00000203", "substation": "AC002E20001", "zone": "NORD"},
]


def _february(gse: httpx.Client) -> tuple[str, dict[str, str]]:
    """A configuration with a plant and two consumers, February 2024 sent hour by hour."""
    configuration_id = _configuration(gse)
    ids = {p["pod"]: _register(gse, configuration_id, p)["id"] for p in FEBRUARY_POINTS}
    readings = []
    for hour in _hours(date(2024, 2, 1)):
        local = hour.astimezone(ROME).hour
        readings.append(
            {
                "pod": "IT002E00000201",
                "start": _iso(hour),
                "minutes": 60,
                "fed_in_kwh": 12.0 if 9 <= local < 16 else 0,
                "withdrawn_kwh": 0.2,
            }
        )
        for pod, load in (("IT002E00000202", 4.0), ("IT002E00000203", 5.5)):
            readings.append({"pod": pod, "start": _iso(hour), "minutes": 60, "withdrawn_kwh": load})
    _post_readings(gse, configuration_id, readings)
    return configuration_id, ids


def test_dropped_pod_is_missing_from_results_and_measurements(
    admin: httpx.Client, gse: httpx.Client
) -> None:
    configuration_id, _ = _february(gse)
    before = _result(gse, configuration_id, "2024-02")
    assert {p["pod"] for p in before["points"]} == {p["pod"] for p in FEBRUARY_POINTS}

    dropped = admin.put(
        f"/admin/configurations/{configuration_id}/missing-pods", json={"pods": ["it002e00000203"]}
    )
    assert dropped.status_code == 200
    after = _result(gse, configuration_id, "2024-02")
    assert {p["pod"] for p in after["points"]} == {"IT002E00000201", "IT002E00000202"}
    lost = Decimal(by_pod(before)["IT002E00000203"]["withdrawn_kwh"])
    assert lost > 0
    assert Decimal(after["totals"]["withdrawn_kwh"]) == (
        Decimal(before["totals"]["withdrawn_kwh"]) - lost
    )
    # Noon: 12 kWh fed in, 4.2 withdrawn without the dropped POD, so less is shared.
    assert Decimal(after["totals"]["shared_energy_kwh"]) < Decimal(
        before["totals"]["shared_energy_kwh"]
    )
    measurements = gse.get(
        "/gse/api/v1/measurements/",
        params={"configuration_id": configuration_id, "page_size": 10000},
    ).json()
    assert {m["pod"] for m in measurements["items"]} == {"IT002E00000201", "IT002E00000202"}


def by_pod(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["pod"]: p for p in result["points"]}


def test_plant_the_gse_treats_differently(admin: httpx.Client, gse: httpx.Client) -> None:
    configuration_id, ids = _february(gse)
    plant_id = ids["IT002E00000201"]
    eligible = by_pod(_result(gse, configuration_id, "2024-02"))["IT002E00000201"]
    assert Decimal(eligible["incentive_eur"]) > 0

    refund_only = admin.put(
        f"/admin/plants/{plant_id}/eligibility", json={"status": "REFUND_ONLY", "reason": "RO"}
    )
    assert refund_only.json()["eligibility"] == {"status": "REFUND_ONLY", "reason": "RO"}
    result = _result(gse, configuration_id, "2024-02")
    plant = by_pod(result)["IT002E00000201"]
    assert plant["eligibility"] == "REFUND_ONLY"
    assert Decimal(plant["incentive_eur"]) == 0
    assert plant["refund_eur"] == eligible["refund_eur"]
    assert plant["shared_energy_kwh"] == eligible["shared_energy_kwh"]
    assert Decimal(result["totals"]["incentivised_shared_energy_kwh"]) == 0
    advances = gse.get(
        "/gse/api/v1/advances/", params={"configuration_id": configuration_id}
    ).json()["items"]
    assert [Decimal(a["amount_eur"]) for a in advances] == [0]

    admin.put(f"/admin/plants/{plant_id}/eligibility", json={"status": "INELIGIBLE"})
    excluded = _result(gse, configuration_id, "2024-02")
    assert "IT002E00000201" not in by_pod(excluded)
    assert [p["pod"] for p in excluded["excluded_points"]] == ["IT002E00000201"]
    assert Decimal(excluded["totals"]["shared_energy_kwh"]) == 0

    plants = gse.get("/gse/api/v1/plants/", params={"configuration_id": configuration_id})
    statuses = {p["pod"]: p["eligibility"]["status"] for p in plants.json()["items"]}
    assert statuses["IT002E00000201"] == "INELIGIBLE"


def test_a_different_trase(admin: httpx.Client, gse: httpx.Client) -> None:
    configuration_id, _ = _february(gse)
    before = _result(gse, configuration_id, "2024-02")
    changed = admin.put(
        "/admin/trase",
        json={"year": 2024, "eur_mwh": "20.00", "configuration_id": configuration_id},
    )
    assert changed.status_code == 200
    after = _result(gse, configuration_id, "2024-02")
    assert after["parameters"]["trase_eur_mwh"] == "20.00"
    shared = Decimal(after["totals"]["shared_energy_kwh"])
    assert Decimal(after["totals"]["refund_eur"]) == (shared * 20 / 1000).quantize(Decimal("0.01"))
    assert after["totals"]["incentive_eur"] == before["totals"]["incentive_eur"]
    assert Decimal(after["totals"]["refund_eur"]) > Decimal(before["totals"]["refund_eur"])


def test_late_publication(admin: httpx.Client, gse: httpx.Client) -> None:
    configuration_id, _ = _february(gse)
    late = f"/admin/configurations/{configuration_id}/late-months"
    assert admin.put(late, json={"months": ["2024-02"]}).status_code == 200
    month = gse.get(f"/gse/api/v1/configurations/{configuration_id}/results/2024-02")
    assert month.status_code == 404
    assert month.json()["error"]["code"] == "results_not_published"
    listed = gse.get(f"/gse/api/v1/configurations/{configuration_id}/results/")
    assert listed.json()["items"] == []
    admin.put(late, json={"months": []})
    assert [
        r["month"]
        for r in gse.get(f"/gse/api/v1/configurations/{configuration_id}/results/").json()["items"]
    ] == ["2024-02"]
    assert (
        gse.get(f"/gse/api/v1/configurations/{configuration_id}/results/2024-01").status_code == 404
    )  # no data sent for January


# Faults that act on every caller ---------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after(admin: httpx.Client) -> None:
    with _referente(admin, rate_limit_per_minute=3) as gse:
        statuses = [gse.get("/gse/api/v1/configurations/").status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        pushed = gse.get("/gse/api/v1/configurations/")
        assert pushed.status_code == 429
        assert pushed.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(pushed.headers["retry-after"]) <= 20
    with _referente(admin) as other:  # the limit is per client
        assert other.get("/gse/api/v1/configurations/").status_code == 200


def test_injected_server_errors_then_recovery(admin: httpx.Client, gse: httpx.Client) -> None:
    try:
        assert admin.post("/admin/faults/errors", json={"count": 2, "status": 503}).is_success
        first = gse.get("/gse/api/v1/configurations/")
        second = gse.get("/gse/api/v1/configurations/")
        assert (first.status_code, second.status_code) == (503, 503)
        assert gse.get("/gse/api/v1/configurations/").status_code == 200
    finally:
        admin.post("/admin/faults/errors", json={"count": 0})
    assert admin.post("/admin/faults/errors", json={"count": 1, "status": 404}).status_code == 422


def test_slow_answers(admin: httpx.Client, gse: httpx.Client) -> None:
    try:
        assert admin.put("/admin/faults/delay", json={"seconds": 1.0}).is_success
        with pytest.raises(httpx.ReadTimeout):
            gse.get("/gse/api/v1/configurations/", timeout=0.3)
    finally:
        admin.put("/admin/faults/delay", json={"seconds": 0})
    assert gse.get("/gse/api/v1/configurations/", timeout=0.5).status_code == 200


# Idempotency and pages ---------------------------------------------------------------------------


def test_idempotent_posts(gse: httpx.Client) -> None:
    body = {"code": uuid.uuid4().hex[:10], "name": "CER Idempotente"}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = gse.post("/gse/api/v1/configurations/", json=body, headers=key)
    again = gse.post("/gse/api/v1/configurations/", json=body, headers=key)
    assert first.status_code == 201 and again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    reused = gse.post("/gse/api/v1/configurations/", json={**body, "name": "another"}, headers=key)
    assert reused.status_code == 409
    # Without a key the caller's code is the key: same content -> the same configuration.
    same_code = gse.post("/gse/api/v1/configurations/", json=body)
    assert same_code.status_code == 200 and same_code.json()["id"] == first.json()["id"]
    configuration_id = first.json()["id"]

    point = {"configuration_id": configuration_id, **FEBRUARY_POINTS[1]}
    plant = gse.post("/gse/api/v1/plants/", json=point)
    repeat = gse.post("/gse/api/v1/plants/", json=point)
    assert (plant.status_code, repeat.status_code) == (201, 200)
    assert repeat.json()["id"] == plant.json()["id"]
    conflict = gse.post("/gse/api/v1/plants/", json={**point, "substation": "AC002E29999"})
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "pod_already_registered"

    reading = {"pod": FEBRUARY_POINTS[1]["pod"], "start": "2024-02-01T00:00:00+01:00"}
    batch = {
        "configuration_id": configuration_id,
        "readings": [{**reading, "minutes": 60, "withdrawn_kwh": 1.5}],
    }
    key = {"Idempotency-Key": uuid.uuid4().hex}
    sent = gse.post("/gse/api/v1/measurements/", json=batch, headers=key)
    resent = gse.post("/gse/api/v1/measurements/", json=batch, headers=key)
    assert resent.json() == sent.json() and sent.json()["created"] == 1
    # Sent again without a key: the GSE keeps one value per POD and hour, nothing doubles.
    plain = gse.post("/gse/api/v1/measurements/", json=batch)
    assert (plain.json()["created"], plain.json()["unchanged"]) == (0, 1)
    held = gse.get(
        "/gse/api/v1/measurements/", params={"configuration_id": configuration_id}
    ).json()
    assert held["total"] == 1 and held["items"][0]["withdrawn_kwh"] == 1.5


def test_invalid_measurements_keep_nothing(gse: httpx.Client) -> None:
    configuration_id = _configuration(gse)
    _register(gse, configuration_id, FEBRUARY_POINTS[1])
    pod = FEBRUARY_POINTS[1]["pod"]
    bad = gse.post(
        "/gse/api/v1/measurements/",
        json={
            "configuration_id": configuration_id,
            "readings": [
                {"pod": pod, "start": "2024-02-01T00:00:00+01:00", "minutes": 60},
                {"pod": pod, "start": "2024-02-01T01:00:00", "minutes": 60},
                {"pod": pod, "start": "2024-02-01T02:00:00+01:00", "minutes": 60, "fed_in_kwh": 1},
                {"pod": "IT009E99999999", "start": "2024-02-01T03:00:00+01:00", "minutes": 60},
                {"pod": pod, "start": "2024-02-01T04:10:00+01:00", "minutes": 15},
            ],
        },
    )
    assert bad.status_code == 422
    fields = [d["field"] for d in bad.json()["error"]["details"]]
    assert fields == [
        "readings[1].start",
        "readings[2].fed_in_kwh",
        "readings[3].pod",
        "readings[4].start",
        "readings[4].minutes",
    ]
    held = gse.get("/gse/api/v1/measurements/", params={"configuration_id": configuration_id})
    assert held.json()["total"] == 0


def test_lists_are_paged(gse: httpx.Client) -> None:
    configuration_id = _configuration(gse)
    pods = [f"IT003E{n:08d}" for n in range(1, 6)]
    for pod in pods:
        _register(gse, configuration_id, {"pod": pod, "substation": "AC003E30001", "zone": "SUD"})
    seen, page, pages = [], 1, 0
    while page is not None:
        body = gse.get(
            "/gse/api/v1/plants/",
            params={"configuration_id": configuration_id, "page": page, "page_size": 2},
        ).json()
        assert body["total"] == 5 and len(body["items"]) <= 2
        seen += [p["pod"] for p in body["items"]]
        page, pages = body["next_page"], pages + 1
    assert seen == pods and pages == 3
    too_big = gse.get("/gse/api/v1/plants/", params={"page_size": 100_000})
    assert too_big.status_code == 422
    assert too_big.json()["error"]["details"][0]["field"] == "page_size"


# Advances and payments ----------------------------------------------------------------------------


def test_advances_paid_at_month_end_from_fifty_euro_else_carried(gse: httpx.Client) -> None:
    configuration_id = _configuration(gse)
    small = {
        "pod": "IT004E00000401",
        "substation": "AC004E40001",
        "zone": "NORD",
        "plant": {
            "power_kw": 3,
            "technology": "PV",
            "region": "Lombardia",
            "entry_into_service": "2023-01-01",
        },
    }
    _register(gse, configuration_id, small)
    _register(gse, configuration_id, {**FEBRUARY_POINTS[1], "substation": "AC004E40001"})
    advance = monthly_advance_cents(Plant(Decimal(3), Technology.PV, "Lombardia", date(2023, 1, 1)))
    assert 3 * advance < 5000 <= 4 * advance  # so three months are carried, the fourth pays
    readings = []
    for month in (1, 2, 3, 4):
        start = f"2024-{month:02d}-10T12:00:00+0{1 if month < 4 else 2}:00"
        readings += [
            {"pod": small["pod"], "start": start, "minutes": 60, "fed_in_kwh": 2.0},
            {"pod": FEBRUARY_POINTS[1]["pod"], "start": start, "minutes": 60, "withdrawn_kwh": 1.5},
        ]
    _post_readings(gse, configuration_id, readings)

    advances = gse.get(
        "/gse/api/v1/advances/", params={"configuration_id": configuration_id}
    ).json()["items"]
    assert [(a["month"], Decimal(a["amount_eur"]) * 100) for a in advances] == [
        (f"2024-{m:02d}", advance) for m in (1, 2, 3, 4)
    ]
    assert advances[1]["due_on"] == "2024-03-29"  # the 30th and 31st are a weekend

    body = gse.get("/gse/api/v1/payments/", params={"configuration_id": configuration_id}).json()
    first = body["items"][0]
    assert first["payment_date"] == "2024-05-31"
    assert Decimal(first["amount_eur"]) * 100 == 4 * advance
    assert [(i["kind"], i["period"]) for i in first["items"]] == [
        ("ADVANCE", "2024-01"),
        ("ADVANCE", "2024-02"),
        ("ADVANCE", "2024-03"),
        ("ADVANCE", "2024-04"),
    ]
    # The 2024 true-up on 15 May 2025: the year's figures less the advances paid.
    figures = sum(
        Decimal(r["totals"]["total_eur"])
        for r in gse.get(f"/gse/api/v1/configurations/{configuration_id}/results/").json()["items"]
    )
    lines = [i for p in body["items"][1:] for i in p["items"]] + body["balance"]["pending_items"]
    true_up = [i for i in lines if i["kind"] == "CONGUAGLIO"]
    assert [(i["period"], i["due_on"]) for i in true_up] == [("2024", "2025-05-15")]
    assert Decimal(true_up[0]["amount_eur"]) == figures - Decimal(4 * advance) / 100
    # Asking again runs nothing twice.
    again = gse.get("/gse/api/v1/payments/", params={"configuration_id": configuration_id})
    assert again.json() == body
