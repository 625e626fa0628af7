"""Large uploads as background jobs on real PostgreSQL and InfluxDB: 202 with a job whose
progress reaches 1 and which names the import it became; a ZIP with a bad row is REJECTED with
the row errors and writes nothing; the threshold sends a large file to the background by
itself; another community's manager gets 404 for the job.

The app's own worker loads the jobs with its own sessions, so these tests commit for real (as
the economic service's do for its settlement worker), each in a community of fresh random ids.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cerc_shared import testing as kit
from fastapi import FastAPI

from .conftest import ReadModels, auth, new_plant_id
from .meter_files import csv_month, zip_of
from .test_imports import MARCH, PATH, pod_of, stored, upload


@pytest.fixture
async def committing(app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, ReadModels]]:
    """A client and read models on the app's real sessions (no rolled-back transaction)."""
    async with kit.asgi_client(app, "http://energy") as http:
        yield http, ReadModels(app.state.sessionmaker)


async def setup(read_models: ReadModels) -> tuple[int, int, int, list[int]]:
    community, other = random.randrange(10**6, 10**9), random.randrange(10**6, 10**9)
    manager, other_manager = random.randrange(10**6, 10**9), random.randrange(10**6, 10**9)
    plants = [new_plant_id(), new_plant_id()]
    for plant in plants:
        await read_models.plant(plant, owner=manager, community=community)
    await read_models.member(manager, community, role="ADMIN")
    await read_models.member(other_manager, other, role="ADMIN")
    return community, manager, other_manager, plants


async def finished(client: httpx.AsyncClient, manager: int, job_id: int) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def done() -> bool:
        answer = await client.get(f"{PATH}jobs/{job_id}/", headers=auth(manager))
        assert answer.status_code == 200, answer.text
        seen.update(answer.json()["data"])
        return seen["status"] not in ("QUEUED", "RUNNING")

    await kit.eventually(done, f"import job {job_id} finished", timeout_s=60)
    return seen


async def test_a_zip_loaded_in_the_background_reports_progress_and_its_import(
    committing: tuple[httpx.AsyncClient, ReadModels], store: Any
) -> None:
    client, read_models = committing
    community, manager, other_manager, plants = await setup(read_models)
    archive = zip_of({f"{pod_of(p)}_202503_immessa.csv": csv_month(2025, 3) for p in plants})
    queued = await upload(
        client, manager, "march.zip", archive, community_id=community, background="true"
    )
    assert queued.status_code == 202, queued.text
    job = queued.json()["data"]
    assert job["status"] in ("QUEUED", "RUNNING", "DONE")
    assert queued.headers["location"] == f"{PATH}jobs/{job['id']}/"

    outcome = await finished(client, manager, job["id"])
    assert outcome["status"] == "DONE", outcome
    assert outcome["progress"] == 1.0 and outcome["errors"] == []
    assert outcome["values_total"] == outcome["values_written"] == 2 * (31 * 96 - 4)
    detail = await client.get(f"{PATH}{outcome['import_id']}/", headers=auth(manager))
    assert detail.status_code == 200 and len(detail.json()["data"]["curves"]) == 2
    for plant in plants:
        assert await stored(store, plant, *MARCH) == 31 * 96 - 4

    # Not the other community's to see.
    other = await client.get(f"{PATH}jobs/{job['id']}/", headers=auth(other_manager))
    assert other.status_code == 404


async def test_a_bad_zip_in_the_background_is_rejected_with_its_rows_and_writes_nothing(
    committing: tuple[httpx.AsyncClient, ReadModels], store: Any
) -> None:
    client, read_models = committing
    community, manager, _, plants = await setup(read_models)
    archive = zip_of(
        {
            f"{pod_of(plants[0])}_202503_immessa.csv": csv_month(2025, 3),
            f"{pod_of(plants[1])}_202503_immessa.csv": csv_month(
                2025, 3, overrides={(15, 40): '"1,2x"'}
            ),
        }
    )
    queued = await upload(
        client, manager, "bad.zip", archive, community_id=community, background="true"
    )
    assert queued.status_code == 202, queued.text
    outcome = await finished(client, manager, queued.json()["data"]["id"])
    assert outcome["status"] == "REJECTED", outcome
    assert outcome["import_id"] is None
    [error] = outcome["errors"]
    assert error["code"] == "invalid_file"
    assert error["field"] == f"bad.zip/{pod_of(plants[1])}_202503_immessa.csv:16:AO"
    for plant in plants:
        assert await stored(store, plant, *MARCH) == 0


async def test_a_file_over_the_threshold_goes_to_the_background_by_itself(
    committing: tuple[httpx.AsyncClient, ReadModels], app: FastAPI
) -> None:
    client, read_models = committing
    community, manager, _, plants = await setup(read_models)
    large, small = csv_month(2025, 5), csv_month(2025, 4)  # 31 days, 30 days
    threshold = app.state.import_background_bytes
    app.state.import_background_bytes = len(small)
    try:
        queued = await upload(client, manager, f"{pod_of(plants[0])}_202505_prelevata.csv", large,
                              community_id=community)  # fmt: skip
        assert queued.status_code == 202, queued.text
        assert (await finished(client, manager, queued.json()["data"]["id"]))["status"] == "DONE"
        direct = await upload(client, manager, f"{pod_of(plants[1])}_202504_prelevata.csv", small,
                              community_id=community)  # fmt: skip
        assert direct.status_code == 201, direct.text
    finally:
        app.state.import_background_bytes = threshold
