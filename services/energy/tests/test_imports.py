"""Distributor meter files through ``/api/energy/imports/`` on real
PostgreSQL and InfluxDB: the daylight-saving days on the right instants, a
file with errors writes nothing, the same file again changes nothing, a
corrected file supersedes the earlier one and both stay in the history, and
only the community's manager may load or see them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from cerc_shared.clock import ITALY
from cerc_shared.events.cer import PlantRegistered
from energy_service.timeseries import InfluxTimeSeries, SeriesQuery

from .conftest import ReadModels, auth, new_plant_id
from .meter_files import by_instant, csv_month, xml_month, zip_of

MANAGER, MEMBER, OTHER_MANAGER = 701, 702, 703
COMMUNITY, OTHER_COMMUNITY = 91, 92
PATH = "/api/energy/imports/"


def pod_of(plant: int) -> str:
    return f"IT001E{plant % 10**8:08d}"


async def setup(read_models: ReadModels) -> int:
    plant = new_plant_id()
    await read_models.plant(plant, owner=MEMBER, community=COMMUNITY)
    await read_models.member(MANAGER, COMMUNITY, role="ADMIN")
    await read_models.member(MEMBER, COMMUNITY)
    await read_models.member(OTHER_MANAGER, OTHER_COMMUNITY, role="ADMIN")
    return plant


async def upload(
    client: httpx.AsyncClient, who: int, name: str, content: bytes, **form: Any
) -> httpx.Response:
    return await client.post(
        PATH,
        files={"file": (name, content, "application/octet-stream")},
        data={"community_id": str(form.pop("community_id", COMMUNITY)), **form},
        headers=auth(who),
    )


async def stored(store: InfluxTimeSeries, plant: int, start: datetime, end: datetime) -> int:
    query = SeriesQuery(start=start, end=end, plant_ids=[plant], source="official")
    return (await store.raw_page(query, offset=0, limit=1))[1]


async def hours(
    client: httpx.AsyncClient, plant: int, start: str, end: str, resolution: str = "hour"
) -> list[dict[str, Any]]:
    answer = await client.get(
        f"/api/plants/{plant}/measurements/",
        params={"start": start, "end": end, "resolution": resolution, "per_page": 1000},
        headers=auth(MANAGER),
    )
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


MARCH = (datetime(2025, 2, 28, 23, 0, tzinfo=UTC), datetime(2025, 3, 31, 22, 0, tzinfo=UTC))


async def test_a_month_of_csv_lands_on_the_right_hours_and_again_changes_nothing(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    plant = await setup(read_models)
    name = f"{pod_of(plant)}_202503_immessa.csv"
    first = await upload(client, MANAGER, name, csv_month(2025, 3))
    assert first.status_code == 201, first.text
    body = first.json()["data"]
    assert (body["values_total"], body["values_written"], body["unchanged"]) == (2972, 2972, False)
    [curve] = body["curves"]
    assert (curve["pod"], curve["plant_id"], curve["direction"], curve["status"]) == (
        pod_of(plant), plant, "fed_in", "written",
    )  # fmt: skip
    assert await stored(store, plant, *MARCH) == 31 * 96 - 4

    # The 23-hour day: 23 local hours, 02:00 missing; each hour the sum of its
    # four quarter hours, fed in, official, measured.
    day = await hours(client, plant, "2025-03-30T00:00:00+01:00", "2025-03-31T00:00:00+02:00")
    assert len(day) == 23
    assert [h["start"][11:16] for h in day[:3]] == ["00:00", "01:00", "03:00"]
    three = datetime(2025, 3, 30, 1, 0, tzinfo=UTC)  # 03:00 CEST
    expected = sum(
        (by_instant(three + timedelta(minutes=15 * q)) for q in (1, 2, 3, 4)), Decimal(0)
    )
    assert day[2]["energy_fed_in_kwh"] == float(expected)
    assert {(h["source"], h["exchange"], h["energy_withdrawn_kwh"]) for h in day} == {
        ("official", "measured", 0.0)
    }

    again = await upload(client, MANAGER, name, csv_month(2025, 3))
    assert again.status_code == 200, again.text
    assert again.json()["data"]["id"] == body["id"] and again.json()["data"]["unchanged"]
    listed = await client.get(PATH, params={"community_id": COMMUNITY}, headers=auth(MANAGER))
    assert [i["id"] for i in listed.json()["data"]] == [body["id"]]


async def test_a_corrected_file_supersedes_and_the_history_keeps_both(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    plant = await setup(read_models)
    name = f"{pod_of(plant)}_202510_prelevata.csv"
    first = (await upload(client, MANAGER, name, csv_month(2025, 10))).json()["data"]

    def corrected(end: datetime) -> Decimal:
        # The distributor corrects 26 October, the 25-hour day.
        local_day = (end - timedelta(minutes=15)).astimezone(ITALY).date()
        return by_instant(end) + (Decimal("1") if local_day == date(2025, 10, 26) else 0)

    second = await upload(client, MANAGER, name, csv_month(2025, 10, corrected))
    assert second.status_code == 201, second.text
    body = second.json()["data"]
    assert body["id"] != first["id"] and body["values_written"] == 31 * 96 + 4

    day = await hours(client, plant, "2025-10-26T00:00:00+02:00", "2025-10-27T00:00:00+01:00")
    assert len(day) == 25
    # The repeated 02:00 hour, both passes, each +4 kWh (four corrected quarter hours).
    twos = [h for h in day if h["start"][11:13] == "02"]
    assert [h["start"] for h in twos] == ["2025-10-26T02:00:00+02:00", "2025-10-26T02:00:00+01:00"]
    for hour in twos:
        start = datetime.fromisoformat(hour["start"]).astimezone(UTC)
        original = sum(
            (by_instant(start + timedelta(minutes=15 * q)) for q in (1, 2, 3, 4)), Decimal(0)
        )
        assert hour["energy_withdrawn_kwh"] == float(original + 4)
    # The day before is as the first file had it.
    before = await hours(
        client, plant, "2025-10-25T00:00:00+02:00", "2025-10-26T00:00:00+02:00", "day"
    )
    first_25 = sum((by_instant(e) for e in _ends(date(2025, 10, 25))), Decimal(0))
    assert before[0]["energy_withdrawn_kwh"] == float(first_25)

    earlier = await client.get(f"{PATH}{first['id']}/", headers=auth(MANAGER))
    [old_curve] = earlier.json()["data"]["curves"]
    assert (old_curve["status"], old_curve["superseded_by"]) == ("superseded", body["id"])
    listed = await client.get(PATH, params={"community_id": COMMUNITY}, headers=auth(MANAGER))
    assert [i["id"] for i in listed.json()["data"]] == [body["id"], first["id"]]
    assert Decimal(body["curves"][0]["total_kwh"]) == Decimal(old_curve["total_kwh"]) + 100


def _ends(day: date) -> list[datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=ITALY).astimezone(UTC)
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=ITALY).astimezone(UTC)
    out = []
    while start < end:
        start += timedelta(minutes=15)
        out.append(start)
    return out


async def test_a_file_with_errors_is_refused_whole_and_nothing_is_written(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    plant = await setup(read_models)
    # Good values everywhere but one cell of 15 March, and a value in the
    # hour that does not exist on 30 March.
    bad = csv_month(2025, 3, overrides={(15, 40): '"1,2x"', (30, 9): '"0,5"'})
    answer = await upload(client, MANAGER, f"{pod_of(plant)}_202503_immessa.csv", bad)
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    name = f"{pod_of(plant)}_202503_immessa.csv"
    assert [(e["field"], e["expected"]) for e in errors] == [
        (f"{name}:16:AO", "kWh like 0,125"),
        (f"{name}:31:J", "empty"),
    ]
    assert await stored(store, plant, *MARCH) == 0
    listed = await client.get(PATH, params={"community_id": COMMUNITY}, headers=auth(MANAGER))
    assert listed.json()["meta"]["total"] == 0

    unknown = await upload(client, MANAGER, "IT001E00000001_202503_immessa.csv", csv_month(2025, 3))
    assert unknown.status_code == 422
    [error] = unknown.json()["errors"]
    assert error["expected"] == "a POD of a plant of this community"
    assert "IT001E00000001 is not registered" in error["message"]


async def test_a_zip_of_xml_and_csv_with_days_outside_the_period_reported(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    plant = await setup(read_models)
    # A second plant that joined the community on 10 June 2025.
    joined = new_plant_id()
    await read_models.deliver(
        PlantRegistered(
            plant_id=joined, pod=pod_of(joined), name="Nuovo", community_id=COMMUNITY,
            owner_user_id=MEMBER, plant_type="PROSUMER", nominal_power_kw="6.00",
            technology="PV", entry_into_service=date(2024, 6, 1), region="Lombardia",
            primary_substation="AC001E01234", market_zone="NORD",
            capital_grant_eur_per_kw="0", connection_voltage="BT",
            valid_from=date(2025, 6, 10), valid_to=None,
        )
    )  # fmt: skip
    archive = zip_of(
        {
            f"{pod_of(plant)}_202506_immessa.csv": csv_month(2025, 6),
            "prelievi.xml": xml_month(
                [(pod_of(plant), "Prelevata"), (pod_of(joined), "Prelevata")],
                2025, 6, estimated_days={2},
            ),
        }
    )  # fmt: skip
    answer = await upload(client, MANAGER, "giugno.zip", archive)
    assert answer.status_code == 201, answer.text
    body = answer.json()["data"]
    assert body["values_total"] == 3 * 30 * 96
    assert body["values_written"] == 2 * 30 * 96 + 21 * 96
    [warning] = body["warnings"]
    assert warning["pod"] == pod_of(joined) and warning["code"] == "outside_period"
    assert warning["days"] == [f"2025-06-{d:02d}" for d in range(1, 10)]
    by_key = {(c["pod"], c["direction"]): c for c in body["curves"]}
    assert by_key[(pod_of(plant), "withdrawn")]["estimated_days"] == ["2025-06-02"]
    assert by_key[(pod_of(joined), "withdrawn")]["values_count"] == 21 * 96

    june = await hours(
        client, plant, "2025-06-01T00:00:00+02:00", "2025-07-01T00:00:00+02:00", "month"
    )
    [month] = june
    total = float(
        sum((by_instant(e) for d in range(1, 31) for e in _ends(date(2025, 6, d))), Decimal(0))
    )
    assert round(month["energy_fed_in_kwh"], 6) == round(total, 6)
    assert round(month["energy_withdrawn_kwh"], 6) == round(total, 6)
    assert (month["source"], month["exchange"]) == ("official", "measured")


async def test_only_the_community_s_manager_loads_and_sees_imports(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    plant = await setup(read_models)
    name = f"{pod_of(plant)}_202503_immessa.csv"
    for who in (MEMBER, OTHER_MANAGER):
        refused = await upload(client, who, name, csv_month(2025, 3))
        assert refused.status_code == 404, refused.text
        assert refused.json()["errors"][0]["code"] == "not_found"
    assert await stored(store, plant, *MARCH) == 0
    # Another community's manager cannot load into their own community a POD
    # of this one: it is not theirs.
    foreign = await upload(
        client, OTHER_MANAGER, name, csv_month(2025, 3), community_id=OTHER_COMMUNITY
    )
    assert foreign.status_code == 422
    loaded = (await upload(client, MANAGER, name, csv_month(2025, 3))).json()["data"]
    for who in (MEMBER, OTHER_MANAGER):
        detail = await client.get(f"{PATH}{loaded['id']}/", headers=auth(who))
        assert detail.status_code == 404
        listed = await client.get(PATH, params={"community_id": COMMUNITY}, headers=auth(who))
        assert listed.status_code == 404
    anonymous = await client.post(PATH, files={"file": (name, b"x")}, data={"community_id": "91"})
    assert anonymous.status_code == 401
