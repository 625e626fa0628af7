"""The dashboard reads answered before routing (``api/shortcut.py``): the same
bodies as the endpoints', and every refusal or odd request left to the endpoint."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from energy_service.api import shortcut
from energy_service.timeseries import InfluxTimeSeries

from .conftest import ReadModels, auth
from .test_read_api import COMMUNITY, OWNER, spring_forward_plant

DAY = {"start": "2025-03-30T00:00:00+01:00", "end": "2025-03-31T00:00:00+02:00"}


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Per plant read that reached the shortcut: whether it answered it."""
    answered: list[bool] = []
    original = shortcut._plant_read

    async def recording(scope: Any) -> bytes | None:
        body: bytes | None = await original(scope)
        answered.append(body is not None)
        return body

    monkeypatch.setattr(shortcut, "_plant_read", recording)
    return answered


async def test_the_shortcut_answers_as_the_endpoint(
    client: httpx.AsyncClient,
    store: InfluxTimeSeries,
    read_models: ReadModels,
    served: list[bool],
) -> None:
    plant = await spring_forward_plant(store)
    await read_models.plant(plant, owner=OWNER, community=COMMUNITY)
    owner = auth(OWNER)
    first = await client.get(
        "/api/energy/measurements/", params={"plant_id": plant, "resolution": "hour", **DAY},
        headers=owner,
    )  # fmt: skip
    assert first.status_code == 200, first.text
    assert served == [False]  # the scope was not kept yet: the endpoint answered, kept it
    for resolution in ("15min", "hour", "day", "month"):
        for extra in ({}, {"page": 2, "per_page": 5}):
            params = {"resolution": resolution, **DAY, **extra}
            endpoint = await client.get(
                f"/api/plants/{plant}/measurements/", params=params, headers=owner
            )
            kept = await client.get(
                "/api/energy/measurements/", params={"plant_id": plant, **params}, headers=owner
            )
            assert endpoint.status_code == kept.status_code == 200, kept.text
            assert kept.content == endpoint.content
            assert kept.headers["content-type"] == "application/json"
            assert served[-1], params
    assert first.json()["meta"]["total"] == 23  # the 23-hour day


async def test_refusals_and_odd_requests_are_left_to_the_endpoint(
    client: httpx.AsyncClient,
    store: InfluxTimeSeries,
    read_models: ReadModels,
    served: list[bool],
) -> None:
    plant = await spring_forward_plant(store)
    await read_models.plant(plant, owner=OWNER, community=COMMUNITY)
    path = "/api/energy/measurements/"
    ok = await client.get(path, params={"plant_id": plant, "resolution": "hour", **DAY},
                          headers=auth(OWNER))  # fmt: skip
    assert ok.status_code == 200
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        ({"start": "2025-03-30T00:00:00", "end": DAY["end"]}, 422, "start"),
        ({"start": DAY["end"], "end": DAY["start"]}, 422, "end"),
        ({"start": "2024-01-01T00:00:00Z", "end": "2025-06-01T00:00:00Z"}, 422, "end"),
        ({**DAY, "per_page": 5000}, 422, "per_page"),
        ({**DAY, "page": 0}, 422, "page"),
        ({**DAY, "resolution": "week"}, 422, "resolution"),
        ({**DAY, "source": "guess"}, 422, "source"),
        ({**DAY, "source": "iot"}, 200, None),  # a filter: the endpoint's own work
    ]
    for params, status, field in cases:
        served.clear()
        response = await client.get(
            path, params={"plant_id": plant, "resolution": "hour", **params}, headers=auth(OWNER)
        )
        assert response.status_code == status, (params, response.text)
        if field is not None:
            assert response.json()["errors"][0]["field"] == field, (params, response.text)
        assert served in ([], [False]), params
    # Someone else, no token, a bad token: the endpoint's 404 and 401s.
    for headers, status in ((auth(OWNER + 1000), 404), ({}, 401),
                            ({"Authorization": "Bearer nonsense"}, 401)):  # fmt: skip
        served.clear()
        response = await client.get(
            path, params={"plant_id": plant, "resolution": "hour", **DAY}, headers=headers
        )
        assert response.status_code == status, response.text
        assert served in ([], [False])
