"""Plants: POD checks, zones, one community at a time with dated periods,
warnings for plants that share nothing, lists that filter, sort and paginate."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cer_service.models import AuditEntry, Plant, PlantPeriod, outbox
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import Users, add_member, auth, new_community, plant_body


async def _counts(maker: async_sessionmaker[AsyncSession]) -> tuple[int, ...]:
    async with maker() as session:
        return tuple(
            [
                int(await session.scalar(select(func.count()).select_from(t)) or 0)
                for t in (Plant.__table__, PlantPeriod.__table__, AuditEntry.__table__, outbox)
            ]
        )


async def _community_with_member(client: httpx.AsyncClient, users: Users) -> int:
    cid: int = (await new_community(client, 10))["id"]
    await users.register(20, "anna")
    await add_member(client, cid, 10, "anna")
    return cid


async def test_register_a_plant(
    client: httpx.AsyncClient, users: Users, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cid = await _community_with_member(client, users)
    consumer = plant_body(cid, 20, pod="it001e00000001", plant_type="CONSUMER", technology=None,
                          entry_into_service=None, nominal_power_kw="6")  # fmt: skip
    first = await client.post("/api/plants/", json=consumer, headers=auth(10))
    assert first.status_code == 201, first.text
    assert first.json()["data"]["pod"] == "IT001E00000001"  # normalised
    assert first.json()["data"]["warnings"] == []
    producer = await client.post(
        "/api/plants/", json=plant_body(cid, 20, pod="IT001E12345678A"), headers=auth(10)
    )
    data = producer.json()["data"]
    assert producer.status_code == 201 and data["warnings"] == []
    assert data["nominal_power_kw"] == "19.50" and data["periods"][0]["valid_to"] is None
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(outbox.c.envelope).where(outbox.c.topic == "plant.v1").order_by(outbox.c.id)
            )
        ).all()
    event = rows[-1].envelope
    assert event["type"] == "plant.registered" and event["key"] == str(data["id"])
    assert {k: event["data"][k] for k in (
        "pod", "community_id", "owner_user_id", "plant_type", "nominal_power_kw", "technology",
        "entry_into_service", "region", "primary_substation", "market_zone",
        "capital_grant_eur_per_kw", "valid_from", "valid_to",
    )} == {
        "pod": "IT001E12345678A", "community_id": cid, "owner_user_id": 20,
        "plant_type": "PRODUCER", "nominal_power_kw": "19.50", "technology": "PV",
        "entry_into_service": "2024-06-01", "region": "Lombardia",
        "primary_substation": "AC001E01234", "market_zone": "NORD",
        "capital_grant_eur_per_kw": "0.00", "valid_from": "2025-01-01", "valid_to": None,
    }  # fmt: skip
    summary = (await client.get(f"/api/cer/{cid}/", headers=auth(20))).json()["data"]
    assert summary["total_power"] == "19.50" and summary["plants_count"] == 2
    assert summary["power_by_substation"] == [
        {"primary_substation": "AC001E01234", "plants_count": 2, "producers_count": 1,
         "consumers_count": 1, "prosumers_count": 0, "total_power": "19.50"}
    ]  # fmt: skip


async def test_a_producer_without_consumers_is_accepted_with_a_warning(
    client: httpx.AsyncClient, users: Users
) -> None:
    cid = await _community_with_member(client, users)
    response = await client.post(
        "/api/plants/", json=plant_body(cid, 20, primary_substation="AC002E00001"), headers=auth(10)
    )
    assert response.status_code == 201
    assert [(w["code"], w["field"]) for w in response.json()["data"]["warnings"]] == [
        ("no_consumers_in_substation", "primary_substation")
    ]


@pytest.mark.parametrize(
    ("change", "status", "field", "code"),
    [
        ({"pod": "IT001E1234567"}, 422, "pod", "validation_error"),
        ({"pod": "FR001E12345678"}, 422, "pod", "validation_error"),
        ({"pod": "IT001X12345678"}, 422, "pod", "validation_error"),
        ({"primary_substation": "CABINA-1"}, 422, "primary_substation", "validation_error"),
        ({"market_zone": "SUD"}, 422, "market_zone", "zone_mismatch"),
        ({"region": "Lombardy"}, 422, "region", "validation_error"),
        ({"region": "Trentino Alto Adige"}, 422, "region", "validation_error"),
        ({"nominal_power_kw": "0"}, 422, "nominal_power_kw", "validation_error"),
        ({"nominal_power_kw": "1.005"}, 422, "nominal_power_kw", "validation_error"),
        ({"zip_code": "2012"}, 422, "zip_code", "validation_error"),
        ({"latitude": "52.5"}, 422, "latitude", "validation_error"),
        ({"capital_grant_eur_per_kw": "-1"}, 422, "capital_grant_eur_per_kw", "validation_error"),
        ({"technology": None}, 422, "technology", "technology_required"),
        ({"entry_into_service": None}, 422, "entry_into_service", "entry_into_service_required"),
        ({"owner_user_id": 99}, 422, "owner_user_id", "owner_not_member"),
        ({"valid_from": "2024-12-31"}, 422, "owner_user_id", "owner_not_member"),
        ({"plant_type": "STORAGE"}, 422, "plant_type", "validation_error"),
        ({"cer_id": 999999}, 404, None, "not_found"),
    ],
)
async def test_bad_plant_is_refused_and_writes_nothing(
    client: httpx.AsyncClient,
    users: Users,
    sessionmaker: async_sessionmaker[AsyncSession],
    change: dict[str, Any],
    status: int,
    field: str | None,
    code: str,
) -> None:
    cid = await _community_with_member(client, users)
    body = plant_body(cid, 20)
    body.update(change)
    before = await _counts(sessionmaker)
    response = await client.post("/api/plants/", json=body, headers=auth(10))
    assert response.status_code == status, response.text
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(field, code)]
    assert await _counts(sessionmaker) == before


async def test_a_pod_belongs_to_one_community_at_a_time(
    client: httpx.AsyncClient, users: Users, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = await _community_with_member(client, users)
    second = (await new_community(client, 11, "CER002"))["id"]
    await add_member(client, second, 11, "anna")
    created = await client.post("/api/plants/", json=plant_body(first, 20), headers=auth(10))
    plant_id = created.json()["data"]["id"]

    before = await _counts(sessionmaker)
    same = await client.post("/api/plants/", json=plant_body(first, 20), headers=auth(10))
    assert same.status_code == 409 and same.json()["errors"][0]["code"] == "pod_already_registered"
    other = await client.post("/api/plants/", json=plant_body(second, 20), headers=auth(11))
    assert other.status_code == 409
    assert [(e["field"], e["code"]) for e in other.json()["errors"]] == [
        ("pod", "pod_in_other_community")
    ]
    assert await _counts(sessionmaker) == before

    # It leaves the first community at the end of June...
    left = await client.delete(f"/api/plants/{plant_id}/?left_on=2025-07-01", headers=auth(10))
    assert left.status_code == 200 and left.json()["data"]["is_active"] is False
    # ...so the second may not have it from June (overlap) but may from July.
    overlap = await client.post(
        "/api/plants/", json=plant_body(second, 20, valid_from="2025-06-15"), headers=auth(11)
    )
    assert overlap.status_code == 409 and overlap.json()["errors"][0]["field"] == "pod"
    moved = await client.post(
        "/api/plants/", json=plant_body(second, 20, valid_from="2025-07-01"), headers=auth(11)
    )
    assert moved.status_code == 201, moved.text
    data = moved.json()["data"]
    assert data["id"] == plant_id and data["community_id"] == second
    assert data["periods"] == [
        {"community_id": first, "valid_from": "2025-01-01", "valid_to": "2025-07-01"},
        {"community_id": second, "valid_from": "2025-07-01", "valid_to": None},
    ]
    # The first community's admin no longer sees it.
    assert (await client.get(f"/api/plants/{plant_id}/", headers=auth(10))).status_code == 404


async def test_update_checks_again_and_publishes_what_changed(
    client: httpx.AsyncClient, users: Users, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cid = await _community_with_member(client, users)
    plant_id = (
        await client.post("/api/plants/", json=plant_body(cid, 20), headers=auth(10))
    ).json()["data"]["id"]
    wrong_zone = await client.put(
        f"/api/plants/{plant_id}/", json={"market_zone": "SICI"}, headers=auth(10)
    )
    assert (
        wrong_zone.status_code == 422 and wrong_zone.json()["errors"][0]["field"] == "market_zone"
    )
    changed = await client.put(
        f"/api/plants/{plant_id}/",
        json={"nominal_power_kw": "25", "capital_grant_eur_per_kw": "300.5"},
        headers=auth(10),
    )
    assert changed.status_code == 200
    assert changed.json()["data"]["nominal_power_kw"] == "25.00"
    async with sessionmaker() as session:
        last = (
            await session.execute(select(outbox.c.envelope).order_by(outbox.c.id.desc()).limit(1))
        ).scalar_one()
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "plant.updated"))
    assert last["type"] == "plant.updated"
    assert last["data"]["changed"] == ["capital_grant_eur_per_kw", "nominal_power_kw"]
    assert last["data"]["nominal_power_kw"] == "25.00"
    assert audit is not None and audit.before["nominal_power_kw"] == "19.50"
    assert audit.after["nominal_power_kw"] == "25.00"


async def test_plant_list_filters_sorts_and_paginates(
    client: httpx.AsyncClient, users: Users
) -> None:
    cid = await _community_with_member(client, users)
    specs = [
        ("IT001E00000001", "CONSUMER", "AC001E00001", "3"),
        ("IT001E00000002", "PRODUCER", "AC001E00001", "50"),
        ("IT001E00000003", "PROSUMER", "AC001E00002", "10"),
        ("IT001E00000004", "PRODUCER", "AC001E00002", "20"),
        ("IT001E00000005", "CONSUMER", "AC001E00002", "4"),
    ]
    for pod, kind, substation, power in specs:
        body = plant_body(cid, 20, pod=pod, plant_type=kind, primary_substation=substation,
                          nominal_power_kw=power)  # fmt: skip
        assert (await client.post("/api/plants/", json=body, headers=auth(10))).status_code == 201

    async def pods(query: str) -> tuple[list[str], dict[str, int]]:
        response = await client.get(f"/api/plants/?{query}", headers=auth(10))
        assert response.status_code == 200, response.text
        return [p["pod"][-1] for p in response.json()["data"]], response.json()["meta"]

    assert await pods(f"cer_id={cid}&plant_type=PRODUCER") == (
        ["2", "4"],
        {"page": 1, "per_page": 20, "total": 2},
    )
    assert (await pods("primary_substation=ac001e00002&sort=-nominal_power_kw"))[0] == [
        "4",
        "3",
        "5",
    ]
    assert await pods("per_page=2&page=2&sort=pod") == (
        ["3", "4"],
        {"page": 2, "per_page": 2, "total": 5},
    )
    assert (await pods("market_zone=SUD"))[0] == []
    assert (await pods("is_active=true&plant_type=CONSUMER"))[0] == ["1", "5"]
    bad_sort = await client.get("/api/plants/?sort=password", headers=auth(10))
    assert bad_sort.status_code == 422 and bad_sort.json()["errors"][0]["field"] == "sort"
    summary = (await client.get(f"/api/cer/{cid}/", headers=auth(10))).json()["data"]
    assert [
        (s["primary_substation"], s["total_power"]) for s in summary["power_by_substation"]
    ] == [
        ("AC001E00001", "50.00"),
        ("AC001E00002", "30.00"),
    ]
    assert summary["total_power"] == "80.00" and summary["members_count"] == 2
