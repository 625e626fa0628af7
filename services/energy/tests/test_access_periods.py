"""Access to readings follows the periods (issue 12, item 1).

A plant leaves community A and its POD is registered again in community B
(the CER service keeps the plant's id): B's owner and B's administrator see
only the readings from B's stay on, A's owner and administrator only those of
A's stay, on every read path (raw readings, energy by resolution, the list
over every visible plant, aggregations by plant)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime
from typing import Any

import httpx
from cerc_shared.events.cer import MembershipStarted, PlantLeft, PlantRegistered
from energy_service.timeseries import EnergyPoint, InfluxTimeSeries

from .conftest import ReadModels, auth, new_plant_id

OWNER_A, ADMIN_A, OWNER_B, ADMIN_B, LATE_ADMIN_B = 1601, 1602, 1603, 1604, 1605
COMMUNITY_A, COMMUNITY_B = 1611, 1612
MOVED_ON = date(2025, 6, 1)
IN_A = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
IN_B = datetime(2025, 7, 10, 12, 0, tzinfo=UTC)
LATE_B = datetime(2025, 9, 10, 12, 0, tzinfo=UTC)
SPAN = {"start": "2025-01-01T00:00:00+01:00", "end": "2025-12-01T00:00:00+01:00"}
_memberships = itertools.count(random.randrange(10**8, 9 * 10**8))


def _stay(plant: int, community: int, owner: int, valid_from: date) -> dict[str, Any]:
    return {
        "plant_id": plant, "pod": f"IT001E{plant % 10**8:08d}", "name": f"P{plant}",
        "community_id": community, "owner_user_id": owner, "plant_type": "PROSUMER",
        "nominal_power_kw": "6.00", "technology": "PV", "entry_into_service": date(2024, 6, 1),
        "region": "Lombardia", "primary_substation": "AC001E01234", "market_zone": "NORD",
        "capital_grant_eur_per_kw": "0", "connection_voltage": "BT",
        "valid_from": valid_from, "valid_to": None,
    }  # fmt: skip


async def _member(
    read_models: ReadModels, user: int, community: int, role: str, valid_from: date
) -> None:
    await read_models.deliver(
        MembershipStarted(
            membership_id=next(_memberships), community_id=community, user_id=user,
            role=role, member_type="PRIVATE", body_type="NONE",
            valid_from=valid_from, valid_to=None,
        )
    )  # fmt: skip


async def moved_plant(read_models: ReadModels, store: InfluxTimeSeries) -> int:
    plant = new_plant_id()
    await _member(read_models, OWNER_A, COMMUNITY_A, "MEMBER", date(2024, 1, 1))
    await _member(read_models, ADMIN_A, COMMUNITY_A, "ADMIN", date(2024, 1, 1))
    await _member(read_models, OWNER_B, COMMUNITY_B, "MEMBER", MOVED_ON)
    await _member(read_models, ADMIN_B, COMMUNITY_B, "ADMIN", MOVED_ON)
    # An administrator of B from August: B's stay, but only their own months.
    await _member(read_models, LATE_ADMIN_B, COMMUNITY_B, "ADMIN", date(2025, 8, 1))
    first = _stay(plant, COMMUNITY_A, OWNER_A, date(2025, 1, 1))
    await read_models.deliver(PlantRegistered(**first))
    await read_models.deliver(PlantLeft(**{**first, "valid_to": MOVED_ON}))
    await read_models.deliver(PlantRegistered(**_stay(plant, COMMUNITY_B, OWNER_B, MOVED_ON)))
    await store.write(
        [
            EnergyPoint(plant, "meter", "iot", at, {"energy_consumed_kwh": kwh})
            for at, kwh in ((IN_A, 1.0), (IN_B, 2.0), (LATE_B, 4.0))
        ]
    )
    return plant


async def test_a_pod_registered_again_opens_no_earlier_tenants_readings(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    plant = await moved_plant(read_models, store)

    async def raw(who: int) -> set[float]:
        response = await client.get(
            f"/api/plants/{plant}/measurements/", params=SPAN, headers=auth(who)
        )
        assert response.status_code == 200, response.text
        listed = await client.get(
            "/api/energy/measurements/", params={**SPAN, "per_page": 1000}, headers=auth(who)
        )
        assert listed.status_code == 200, listed.text
        mine = {r["energy_consumed_kwh"] for r in listed.json()["data"] if r["plant_id"] == plant}
        seen = {r["energy_consumed_kwh"] for r in response.json()["data"]}
        assert mine == seen, (who, mine, seen)
        return seen

    async def monthly(who: int) -> float:
        response = await client.get(
            f"/api/plants/{plant}/measurements/",
            params={**SPAN, "resolution": "month"},
            headers=auth(who),
        )
        assert response.status_code == 200, response.text
        return sum(b["energy_consumed_kwh"] for b in response.json()["data"])

    async def by_plant(who: int) -> float:
        response = await client.get(
            "/api/energy/aggregations/",
            params={**SPAN, "by": "plant", "plant_id": plant, "resolution": "month"},
            headers=auth(who),
        )
        assert response.status_code == 200, response.text
        return sum(b["consumed_kwh"] for b in response.json()["data"])

    assert await raw(OWNER_B) == {2.0, 4.0}
    assert await raw(ADMIN_B) == {2.0, 4.0}
    assert await raw(LATE_ADMIN_B) == {4.0}
    assert await raw(OWNER_A) == {1.0}
    assert await raw(ADMIN_A) == {1.0}
    assert [await monthly(u) for u in (OWNER_B, ADMIN_B, OWNER_A, ADMIN_A)] == [6.0, 6.0, 1.0, 1.0]
    assert [await by_plant(u) for u in (OWNER_B, OWNER_A)] == [6.0, 1.0]
    platform = await client.get(
        f"/api/plants/{plant}/measurements/", params=SPAN, headers=auth(1, "ADMIN")
    )
    assert {r["energy_consumed_kwh"] for r in platform.json()["data"]} == {1.0, 2.0, 4.0}
    stranger = await client.get(
        f"/api/plants/{plant}/measurements/", params=SPAN, headers=auth(1699)
    )
    assert stranger.status_code == 404
    assert stranger.json()["errors"][0]["code"] == "not_found"
