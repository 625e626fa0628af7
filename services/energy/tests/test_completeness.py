"""``/api/energy/completeness/``: which POD-hours of a month are official,
estimated by the distributor, only estimates of our own, or missing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
from energy_service.timeseries import EnergyPoint, InfluxTimeSeries

from .conftest import ReadModels, auth
from .meter_files import csv_month, xml_month, zip_of
from .test_aggregations import register

MANAGER, OWNER, OUTSIDER = 901, 902, 903
COMMUNITY, READY_COMMUNITY, OTHER_COMMUNITY = 95, 96, 97
S1 = "AC001E01234"
PATH = "/api/energy/completeness/"


def pod(plant: int) -> str:
    return f"IT001E{plant % 10**8:08d}"


async def test_a_month_with_estimates_and_gaps_is_not_ready_and_a_full_one_is(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    await read_models.member(MANAGER, COMMUNITY, role="ADMIN")
    await read_models.member(MANAGER, READY_COMMUNITY, role="ADMIN")
    await read_models.member(OUTSIDER, OTHER_COMMUNITY, role="ADMIN")
    official = await register(read_models, OWNER, S1, community=COMMUNITY)
    estimated_only = await register(read_models, OWNER, S1, community=COMMUNITY)
    # Joined on 21 June: 10 days, 240 hours of June are its.
    late = await register(read_models, OWNER, S1, community=COMMUNITY, valid_from=date(2025, 6, 21))
    archive = zip_of(
        {
            f"{pod(official)}_202506_immessa.csv": csv_month(2025, 6),
            "prelievi.xml": xml_month([(pod(official), "Prelevata")], 2025, 6, estimated_days={2}),
        }
    )
    loaded = await client.post(
        "/api/energy/imports/",
        files={"file": ("giugno.zip", archive)},
        data={"community_id": str(COMMUNITY)},
        headers=auth(MANAGER),
    )
    assert loaded.status_code == 201, loaded.text
    five = datetime(2025, 6, 5, 8, 0, tzinfo=UTC)
    kwh = {"energy_consumed_kwh": 1.0}
    await store.write(
        [
            EnergyPoint(estimated_only, "m1", "iot", five + timedelta(hours=h), kwh)
            for h in (1, 2, 3)
        ]
        + [EnergyPoint(late, "manual", "manual", five + timedelta(days=20), kwh)]
    )

    answer = await client.get(
        PATH, params={"community_id": COMMUNITY, "month": "2025-06"}, headers=auth(MANAGER)
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()["data"]
    pods = {p["plant_id"]: p for p in body["pods"]}
    assert pods[official]["by_source"] == {"official": 720, "manual": 0, "iot": 0, "missing": 0}
    assert pods[official]["estimated_hours"] == 24
    assert (pods[official]["complete"], pods[official]["incomplete_days"]) == (
        False,
        ["2025-06-02"],
    )
    assert pods[estimated_only]["by_source"] == {
        "official": 0, "manual": 0, "iot": 3, "missing": 717,
    }  # fmt: skip
    assert len(pods[estimated_only]["incomplete_days"]) == 30
    assert pods[late]["hours"] == 240
    assert pods[late]["by_source"] == {"official": 0, "manual": 1, "iot": 0, "missing": 239}
    assert pods[late]["incomplete_days"][0] == "2025-06-21"
    assert (body["complete"], body["hours"], body["official_hours"]) == (False, 1680, 720)
    assert (body["estimated_hours"], body["missing_hours"]) == (24, 956)

    ready = await register(read_models, OWNER, S1, community=READY_COMMUNITY)
    for direction in ("immessa", "prelevata"):
        await client.post(
            "/api/energy/imports/",
            files={"file": (f"{pod(ready)}_202506_{direction}.csv", csv_month(2025, 6))},
            data={"community_id": str(READY_COMMUNITY)},
            headers=auth(MANAGER),
        )
    answer = await client.get(
        PATH, params={"community_id": READY_COMMUNITY, "month": "2025-06"}, headers=auth(MANAGER)
    )
    body = answer.json()["data"]
    assert (body["complete"], body["official_hours"], body["missing_hours"]) == (True, 720, 0)

    for who in (OUTSIDER, OWNER):
        refused = await client.get(
            PATH, params={"community_id": COMMUNITY, "month": "2025-06"}, headers=auth(who)
        )
        assert refused.status_code == 404
    bad = await client.get(
        PATH, params={"community_id": COMMUNITY, "month": "2025-13"}, headers=auth(MANAGER)
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "month"
