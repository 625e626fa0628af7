"""GET /api/energy/live/: readings published to Kafka reach a member's
Server-Sent Events stream, served by a real HTTP server (ASGI transports
buffer a whole response, so they cannot show a stream)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from cerc_shared.events import EventEnvelope
from cerc_shared.events.iot import MeasurementsAccepted, Reading
from fastapi import FastAPI

from .conftest import ReadModels, auth, new_plant_id, produce


@pytest.fixture
async def server(app: FastAPI, sessionmaker: Any) -> AsyncIterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # The app's lifespan already runs (the session fixture); this only serves it.
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    http = uvicorn.Server(config)
    task = asyncio.create_task(http.serve())
    for _ in range(500):  # uvicorn has no event for "started"; 10 s at most
        if http.started:
            break
        await asyncio.sleep(0.02)
    assert http.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        http.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


def exchange_event(plant_id: int, device: str, fed_in: float, withdrawn: float) -> EventEnvelope:
    # A grid-connection meter's reading, ending now (today, the current hour).
    now = datetime.now(UTC).replace(microsecond=0)
    event = MeasurementsAccepted(
        plant_id=plant_id,
        source="iot",
        readings=[
            Reading(
                device_id=device,
                timestamp=now,
                interval_s=10,
                energy_fed_in_kwh=fed_in,
                energy_withdrawn_kwh=withdrawn,
                measuring_point="grid_connection",
            )
        ],
    )
    return EventEnvelope.wrap(event, producer="iot", correlation_id=None)


async def live_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    kind = None
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: ") and kind == "live":
            yield orjson.loads(line.removeprefix("data: "))


async def test_a_member_sees_shared_energy_as_readings_arrive(
    server: str, read_models: ReadModels, producer: AIOKafkaProducer
) -> None:
    community, other_community = random.randrange(10**9), random.randrange(10**9)
    manager, member = random.randrange(10**9), random.randrange(10**9)
    producer_plant, consumer_plant, foreign_plant = new_plant_id(), new_plant_id(), new_plant_id()
    await read_models.member(manager, community, role="ADMIN")
    await read_models.member(member, community)
    await read_models.plant(producer_plant, manager, community)
    await read_models.plant(consumer_plant, member, community)
    await read_models.plant(foreign_plant, member, other_community)

    async with (
        httpx.AsyncClient(timeout=30) as http,
        http.stream(
            "GET", f"{server}/api/energy/live/?community_id={community}", headers=auth(member)
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = live_events(response)
        first = await anext(events)
        assert first["community_id"] == community
        assert first["today"]["shared_kwh"] == 0.0

        sent = time.monotonic()
        await produce(producer, exchange_event(producer_plant, "gc-p", fed_in=1.5, withdrawn=0))
        await produce(producer, exchange_event(consumer_plant, "gc-c", fed_in=0, withdrawn=1.0))
        # Another community's reading in the same substation shares nothing here.
        await produce(producer, exchange_event(foreign_plant, "gc-f", fed_in=0, withdrawn=9.0))

        async def until_shared() -> dict[str, Any]:
            async for snapshot in events:
                if snapshot["today"]["withdrawn_kwh"] >= 1.0 and snapshot["today"]["fed_in_kwh"]:
                    return snapshot
            raise AssertionError("the stream ended")

        seen = await asyncio.wait_for(until_shared(), 30)
        print(f"publish -> seen by the client: {1000 * (time.monotonic() - sent):.0f} ms")
        for period in ("hour", "today"):
            assert seen[period]["fed_in_kwh"] == 1.5
            assert seen[period]["withdrawn_kwh"] == 1.0
            assert seen[period]["shared_kwh"] == 1.0
        [substation] = seen["today"]["substations"]
        assert substation["primary_substation"] == "AC001E01234"
        assert substation["shared_kwh"] == 1.0


async def test_the_stream_is_for_members_of_the_community_only(
    client: httpx.AsyncClient, read_models: ReadModels
) -> None:
    community, other_community = random.randrange(10**9), random.randrange(10**9)
    outsider, former = random.randrange(10**9), random.randrange(10**9)
    await read_models.member(outsider, other_community, role="ADMIN")
    await read_models.member(former, community, ended=datetime(2025, 1, 1).date())
    for user in (outsider, former):
        response = await client.get(
            "/api/energy/live/", params={"community_id": community}, headers=auth(user)
        )
        assert response.status_code == 404, response.text
        assert response.json()["errors"][0]["code"] == "not_found"
    anonymous = await client.get("/api/energy/live/", params={"community_id": community})
    assert anonymous.status_code == 401
