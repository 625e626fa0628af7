"""Runs and what they take from this service's tables: zonal prices (a month without them
fails naming the hours), the dated parameters (audited, recorded by the run), and the hours a
run keeps per substation."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
from cacer.demo_prices import demo_day, to_market_zip
from cerc_shared.events.cer import PlantRegistered
from economic_service.models import AuditRecord, RuleParameter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import ITALY, Community, EnergyStandIn, auth, hours_of, new_id
from .test_settlements import settle_through_api

MONTH = "2025-02"
START, END = date(2025, 2, 1), date(2025, 3, 1)
PLATFORM_ADMIN = new_id()


def admin() -> dict[str, str]:
    return auth(PLATFORM_ADMIN, "ADMIN")


async def import_days(client: httpx.AsyncClient, first: date, count: int) -> None:
    rng = random.Random(f"{first}")
    data = to_market_zip([demo_day(first + timedelta(days=k), rng, 60) for k in range(count)])
    response = await client.post(
        "/api/economic/prices/imports/", files={"file": ("p.zip", data)}, headers=admin()
    )
    assert response.status_code in (200, 201), response.text


async def community(
    maker: async_sessionmaker[AsyncSession], stand_in: EnergyStandIn
) -> tuple[Community, dict[str, int]]:
    c = Community(maker, stand_in)
    await c.create()
    users = {name: new_id() for name in ("producer", "near", "far")}
    for user in users.values():
        await c.member(user)
    plant_id = new_id()
    producer = {
        "plant_id": plant_id,
        "pod": f"IT001E{plant_id % 10**8:08d}",
        "name": "Tetto scuola",
        "community_id": c.id,
        "owner_user_id": users["producer"],
        "plant_type": "PRODUCER",
        "nominal_power_kw": Decimal(50),
        "technology": "PV",
        "entry_into_service": date(2024, 9, 1),
        "region": "Lombardia",
        "primary_substation": "AC001E00001",
        "market_zone": "NORD",
        "capital_grant_eur_per_kw": Decimal(300),  # F = 1.25 x 300/1200 with the engine's cap
        "connection_voltage": "BT",
        "valid_from": date(2024, 1, 1),
        "valid_to": None,
    }
    await c.deliver(PlantRegistered(**producer))
    c.plants.append(producer)
    near = await c.plant(users["near"], "CONSUMER", substation="AC001E00001")
    far = await c.plant(users["far"], "CONSUMER", substation="AC001E00002")
    energy: dict[str, list[dict[str, Any]]] = {}
    hours = hours_of(START, END)
    for pod, kind in ((producer["pod"], "producer"), (near, "near"), (far, "far")):
        rows = []
        for i, h in enumerate(hours):
            local = h.astimezone(ITALY)
            fed = 20 + (i % 5) if kind == "producer" and 9 <= local.hour < 16 else 0
            withdrawn = {"producer": 0.2, "near": 6.5, "far": 4.25}[kind] + (i % 3) * 0.5
            rows.append(
                {
                    "start": local.isoformat(),
                    "fed_in_kwh": f"{fed:.3f}",
                    "withdrawn_kwh": f"{withdrawn:.3f}",
                    "source": "iot",
                }
            )
        energy[pod] = rows
    c.set_energy(MONTH, energy, official_complete=False)
    return c, users


async def settle(client: httpx.AsyncClient, c: Community) -> dict[str, Any]:
    return await settle_through_api(client, c, "ESTIMATE", MONTH)


async def set_parameter(
    client: httpx.AsyncClient, body: dict[str, Any], **kw: Any
) -> httpx.Response:
    return await client.post(
        "/api/economic/parameters/", json=body, headers=kw.get("headers", admin())
    )


async def audit_count(maker: async_sessionmaker[AsyncSession]) -> int:
    async with maker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(AuditRecord.action == "parameter.set")
        )
    return int(count or 0)


async def test_a_month_needs_its_prices_its_trase_and_keeps_its_hours(
    client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    energy: tuple[EnergyStandIn, int],
) -> None:
    c, users = await community(maker, energy[0])

    # 1. Prices for every day but the last: the run fails naming the missing day's hours.
    await import_days(client, START, 27)
    failed = await settle(client, c)
    assert failed["status"] == "FAILED"
    (error,) = failed["errors"]
    assert error["code"] == "prices_missing" and error["zone"] == "NORD"
    assert error["missing_hours"] == 24
    assert "2025-02-28T00:00+01:00..2025-02-28T23:00+01:00 (24 hours)" in error["message"]

    # 2. With every price, the engine has no TRASe for 2025 and says so.
    await import_days(client, date(2025, 2, 28), 1)
    failed = await settle(client, c)
    assert failed["status"] == "FAILED"
    assert any(e.get("field") == "trase_eur_mwh" for e in failed["errors"]), failed["errors"]

    # 3. Only a platform admin adds it; a wrong date is refused and writes nothing.
    body = {"name": "trase_eur_mwh", "valid_from": "2025-01-01", "value": "11.20",
            "source": "test: a TRASe for 2025"}  # fmt: skip
    before = await audit_count(maker)
    assert (await set_parameter(client, body, headers=auth(c.admin))).status_code == 403
    wrong = await set_parameter(client, {**body, "valid_from": "2025-03-01"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "valid_from"
    unknown = await set_parameter(client, {**body, "name": "pun_cap"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "name"
    assert await audit_count(maker) == before
    created = await set_parameter(client, body)
    assert created.status_code == 201, created.text

    run = await settle(client, c)
    assert run["status"] == "COMPLETED", run["errors"]
    assert run["parameters"]["trase_eur_mwh"]["origin"] == "platform"
    assert Decimal(run["parameters"]["trase_eur_mwh"]["value"]) == Decimal("11.20")
    shared_mwh = Decimal(str(run["result"]["shared_energy_kwh"])) / 1000
    assert shared_mwh > 0
    refund = (shared_mwh * Decimal("11.20")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert Decimal(str(run["result"]["refund_eur"])) == refund
    assert run["parameters"]["prices"]["hours"] == 28 * 24

    # 4. A change is audited old -> new, and the next run uses it.
    changed = await set_parameter(client, {**body, "value": "12.00"})
    assert changed.status_code == 200
    changes = (await client.get("/api/economic/parameters/changes/", headers=admin())).json()[
        "data"
    ]
    latest = next(x for x in changes if x["details"]["valid_from"] == "2025-01-01")
    assert (latest["details"]["old"], latest["details"]["new"]) == ("11.200000", "12.00")
    assert latest["actor_user_id"] == PLATFORM_ADMIN
    assert (
        await client.get("/api/economic/parameters/changes/", headers=auth(c.admin))
    ).status_code == 403

    # The grant reduction's cap: the engine's 1,200 €/kW gives F = 0.3125; a platform row
    # for plants entering service from 2024 with 1,500 €/kW gives F = 0.25.
    assert run["result"]["plants"][0]["grant_reduction_f"] == 0.3125
    cap = {"name": "max_eligible_cost_eur_per_kw", "key": "200", "valid_from": "2024-06-01",
           "value": "1500", "source": "test: a later cost cap"}  # fmt: skip
    assert (await set_parameter(client, cap)).status_code == 201
    again = await settle(client, c)
    assert again["status"] == "COMPLETED", again["errors"]
    assert again["result"]["plants"][0]["grant_reduction_f"] == 0.25
    pod = c.plants[0]["pod"]
    assert again["parameters"]["max_eligible_cost_eur_per_kw"][pod]["origin"] == "platform"
    refund_again = (shared_mwh * Decimal("12.00")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert Decimal(str(again["result"]["refund_eur"])) == refund_again
    assert again["difference"]["total_cents"] > 0
    listed = (await client.get("/api/economic/parameters/", headers=auth(c.admin))).json()["data"]
    origins = {(p["name"], p["key"], p["valid_from"]): p["origin"] for p in listed}
    assert origins[("trase_eur_mwh", "", "2024-01-01")] == "engine"
    assert origins[("trase_eur_mwh", "", "2025-01-01")] == "platform"
    assert origins[("max_eligible_cost_eur_per_kw", "200", "2024-06-01")] == "platform"
    # Leave the cost cap to this test alone.
    async with maker() as session, session.begin():
        row = await session.get(
            RuleParameter, ("max_eligible_cost_eur_per_kw", "200", date(2024, 6, 1))
        )
        await session.delete(row)

    # 5. The run's hours, per substation, paged; they add up to the run's figures.
    url = f"/api/economic/settlements/{again['id']}/hours/"
    hours = (await client.get(f"{url}?per_page=2000", headers=auth(c.admin))).json()
    assert hours["meta"]["total"] == 28 * 24 * 2 == len(hours["data"])
    for substation in again["result"]["substations"]:
        mine = [h for h in hours["data"] if h["substation"] == substation["code"]]
        assert len(mine) == 28 * 24
        for field in ("fed_in_kwh", "withdrawn_kwh", "shared_energy_kwh",
                      "incentivised_shared_energy_kwh"):  # fmt: skip
            assert sum(Decimal(h[field]) for h in mine) == Decimal(str(substation[field])), field
    assert hours["data"][0]["hour"] == "2025-02-01T00:00:00+01:00"
    page = (await client.get(f"{url}?page=3&per_page=100", headers=auth(c.admin))).json()
    assert page["data"] == hours["data"][200:300]
    far = (await client.get(f"{url}?substation=AC001E00002", headers=auth(c.admin))).json()
    assert far["meta"]["total"] == 28 * 24
    assert all(Decimal(h["shared_energy_kwh"]) == 0 for h in far["data"])  # nothing fed in there

    assert (await client.get(url, headers=auth(users["near"]))).status_code == 403
    stranger = Community(maker, energy[0])
    await stranger.create()
    assert (await client.get(url, headers=auth(stranger.admin))).status_code == 404
