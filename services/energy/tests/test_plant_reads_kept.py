"""A plant's readings over a given span kept as response bodies (``api/shortcut.py``):
served again only while the plant's marks in the span and the version its dropped
marks drew are unchanged, so a reading stored after the answer is always seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cerc_shared import db
from energy_service.hourly.service import process_dirty
from energy_service.service import read_measurements as computing
from energy_service.settings import EnergySettings
from energy_service.timeseries import InfluxTimeSeries

from .conftest import ReadModels, auth
from .test_read_api import COMMUNITY, OWNER, consumed, spring_forward_plant

DAY = {"start": "2025-03-30T00:00:00+01:00", "end": "2025-03-31T00:00:00+02:00"}
NOON = datetime(2025, 3, 30, 10, 0, tzinfo=UTC)  # 12:00 CEST


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Per plant read, 1 when its answer was computed from the store."""
    from energy_service import service

    calls: list[int] = []

    async def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await computing(*args, **kwargs)

    monkeypatch.setattr(service, "read_measurements", counting)
    return calls


async def _day(client: httpx.AsyncClient, plant: int, **extra: Any) -> httpx.Response:
    response = await client.get(
        "/api/energy/measurements/",
        params={"plant_id": plant, "resolution": "hour", **DAY, **extra},
        headers=auth(OWNER),
    )
    assert response.status_code == 200, response.text
    return response


def _noon(response: httpx.Response) -> float:
    (bucket,) = [b for b in response.json()["data"] if b["start"].startswith("2025-03-30T12:00")]
    return float(bucket["energy_consumed_kwh"])


async def test_a_kept_plant_day_is_served_until_a_reading_or_the_worker_changes_it(
    client: httpx.AsyncClient,
    store: InfluxTimeSeries,
    read_models: ReadModels,
    settings: EnergySettings,
    computed: list[int],
) -> None:
    plant = await spring_forward_plant(store)
    await read_models.plant(plant, owner=OWNER, community=COMMUNITY)
    await _day(client, plant)  # the endpoint: keeps the caller's scope
    computed.clear()
    first = await _day(client, plant)
    again = await _day(client, plant)
    assert computed == [1]  # the second was served as kept
    assert again.content == first.content

    # Another page is another answer.
    await _day(client, plant, page=2, per_page=5)
    assert computed == [1, 1]

    # A reading stored in the span (the store marks its hour): seen at once.
    await store.write([consumed(plant, "meter-2", NOON + timedelta(minutes=15), 0.5)])
    computed.clear()
    after_write = await _day(client, plant)
    assert computed == [1]
    assert _noon(after_write) == pytest.approx(_noon(first) + 0.5)
    assert (await _day(client, plant)).content == after_write.content
    assert computed == [1]

    # The worker takes the marks in: they are dropped and a version drawn, so the
    # answer is computed again (and is the same).
    await _take_marks(settings, store)
    computed.clear()
    recomputed = await _day(client, plant)
    assert computed == [1] and recomputed.content == after_write.content

    # The state with no marks must not come back: a reading stored, nobody reading
    # before the worker drops its mark, and the answer kept from before is not served.
    await store.write([consumed(plant, "meter-2", NOON + timedelta(minutes=30), 0.25)])
    await _take_marks(settings, store)
    latest = await _day(client, plant)
    assert _noon(latest) == pytest.approx(_noon(first) + 0.75)


async def _take_marks(settings: EnergySettings, store: InfluxTimeSeries) -> None:
    """What the hourly worker does, on a connection of its own as the worker's (the
    test's rolled-back transaction would hold the dropped marks' locks, and the next
    reading's mark would wait on it)."""
    engine = db.create_engine(settings)
    try:
        while await process_dirty(db.create_sessionmaker(engine), store):
            pass
    finally:
        await engine.dispose()


async def test_only_a_whole_span_is_kept_and_only_for_its_caller(
    client: httpx.AsyncClient,
    store: InfluxTimeSeries,
    read_models: ReadModels,
    computed: list[int],
) -> None:
    plant = await spring_forward_plant(store)
    await read_models.plant(plant, owner=OWNER, community=COMMUNITY)
    path = "/api/energy/measurements/"
    end_only = {"plant_id": plant, "resolution": "hour", "end": DAY["end"]}
    for _ in range(3):
        response = await client.get(path, params=end_only, headers=auth(OWNER))
        assert response.status_code == 200
    # Without a start the span is the day before "end", computed each time (a default
    # span may follow the clock).
    assert len(computed) == 3
    await _day(client, plant)
    # Someone else asking for the kept span gets the endpoint's 404, not the body.
    stranger = await client.get(
        path, params={"plant_id": plant, "resolution": "hour", **DAY}, headers=auth(OWNER + 1000)
    )
    assert stranger.status_code == 404
