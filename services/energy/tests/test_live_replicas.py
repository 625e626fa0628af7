"""Live shared energy with several replicas: two energy apps in one ingestion
group (each storing the readings of the partitions it owns), each serving the
stream on a real HTTP server. A client of either sees the whole community;
the shared energy is the rules engine's over all the readings; a replica
started later shows the day so far, not zero; a record read twice counts once.

The read models are committed here (not the tests' rolled-back transaction):
the second and third apps read them through their own connections."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import socket
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from cacer.shared_energy import shared_energy
from cerc_shared import testing as kit
from cerc_shared.db import create_engine
from cerc_shared.events import EventEnvelope
from cerc_shared.events.iot import MeasurementsAccepted, Reading
from energy_service.live_feed import LiveFeed, records_points
from energy_service.main import create_app
from energy_service.settings import EnergySettings
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import TOKENS, ReadModels, auth, new_plant_id
from .test_live import live_events

QUARTER_S, HOUR_S = 900, 3600


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    http = uvicorn.Server(config)
    task = asyncio.create_task(http.serve())
    for _ in range(500):
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


@contextlib.asynccontextmanager
async def replica(settings: EnergySettings) -> AsyncIterator[tuple[FastAPI, str]]:
    """Another replica of the service: same settings, so the same ingestion group."""
    async with (
        kit.running_app(create_app(settings), settings, TOKENS) as app,
        serving(app) as url,
    ):
        yield app, url


@pytest.fixture
async def committed(settings: EnergySettings) -> AsyncIterator[ReadModels]:
    engine = create_engine(settings)
    try:
        yield ReadModels(async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False))
    finally:
        await engine.dispose()


class Community:
    """The readings sent, and the figures the rules engine gives for them."""

    def __init__(self) -> None:
        # (plant, quarter start) -> [produced, consumed, fed-in, withdrawn, measured]
        self.quarters: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0.0] * 5)

    def add(self, plant_id: int, at: datetime, **kwh: float) -> None:
        quarter = math.ceil(at.timestamp() / QUARTER_S) * QUARTER_S - QUARTER_S
        sums = self.quarters[(plant_id, quarter)]
        for index, name in enumerate(("produced", "consumed", "fed_in", "withdrawn")):
            sums[index] += kwh.get(name, 0.0)
        if "fed_in" in kwh or "withdrawn" in kwh:
            sums[4] = 1.0

    def expected(self) -> dict[str, float]:
        """Today's fed-in, withdrawn and shared (one substation): per plant and
        hour the quarters' exchange (measured, else derived), rounded to whole
        Wh; the substation's hourly sums; the engine's min."""
        per_plant_hour: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for (plant_id, quarter), sums in self.quarters.items():
            produced, consumed, fed_in, withdrawn, measured = sums
            if not measured:
                fed_in, withdrawn = max(0.0, produced - consumed), max(0.0, consumed - produced)
            sums = per_plant_hour[(plant_id, quarter // HOUR_S * HOUR_S)]
            sums[0] += fed_in
            sums[1] += withdrawn
        hours = sorted({hour for _, hour in per_plant_hour})
        fed_wh = np.zeros((1, len(hours)), dtype=np.int64)
        withdrawn_wh = np.zeros((1, len(hours)), dtype=np.int64)
        for (_, hour), (fed_in, withdrawn) in per_plant_hour.items():
            fed_wh[0, hours.index(hour)] += round(fed_in * 1000)
            withdrawn_wh[0, hours.index(hour)] += round(withdrawn * 1000)
        return {
            "fed_in_kwh": sum(v[0] for v in per_plant_hour.values()),
            "withdrawn_kwh": sum(v[1] for v in per_plant_hour.values()),
            "shared_kwh": int(shared_energy(fed_wh, withdrawn_wh).sum()) / 1000,
        }


def matches(expected: dict[str, float]) -> Callable[[dict[str, Any]], bool]:
    def check(snapshot: dict[str, Any]) -> bool:
        today = snapshot["today"]
        return not snapshot["replaying"] and all(
            abs(today[name] - value) < 1e-6 for name, value in expected.items()
        )

    return check


async def seen(url: str, community: int, user: int, check: Callable[[dict[str, Any]], bool]) -> Any:
    """The first snapshot of the stream at ``url`` that passes ``check`` (the last one if none)."""
    last: dict[str, Any] = {}

    async def read() -> dict[str, Any]:
        nonlocal last
        async with (
            httpx.AsyncClient(timeout=60) as http,
            http.stream(
                "GET", f"{url}/api/energy/live/?community_id={community}", headers=auth(user)
            ) as response,
        ):
            assert response.status_code == 200, await response.aread()
            async for snapshot in live_events(response):
                last = snapshot
                if check(snapshot):
                    return snapshot
        raise AssertionError("the stream ended")

    try:
        return await asyncio.wait_for(read(), 30)
    except TimeoutError:
        raise AssertionError(f"never seen; last snapshot of {url}: {last}") from None


def event(plant_id: int, readings: list[Reading]) -> EventEnvelope:
    return EventEnvelope.wrap(
        MeasurementsAccepted(plant_id=plant_id, source="iot", readings=readings),
        producer="iot",
        correlation_id=None,
    )


async def send(producer: AIOKafkaProducer, envelope: EventEnvelope) -> int:
    metadata = await producer.send_and_wait(
        envelope.topic, value=envelope.model_dump_json().encode(), key=envelope.key.encode()
    )
    return int(metadata.partition)


async def test_every_replica_streams_the_whole_community_and_a_new_one_the_day_so_far(
    app: FastAPI,
    settings: EnergySettings,
    committed: ReadModels,
    producer: AIOKafkaProducer,
) -> None:
    community, manager = random.randrange(10**9), random.randrange(10**9)
    await committed.member(manager, community, role="ADMIN")
    # Twelve plants (keys spread over the topic's partitions): half with a
    # grid-connection meter, half with a production and a consumption meter
    # (exchange derived per quarter hour from both).
    plants = [new_plant_id() for _ in range(12)]
    for plant_id in plants:
        await committed.plant(plant_id, manager, community)
    sent = Community()
    partitions: set[int] = set()
    sent_events: list[EventEnvelope] = []
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=120)

    async def round_of_readings(second: int) -> None:
        at = start + timedelta(seconds=second)
        for index, plant_id in enumerate(plants):
            if index % 2 == 0:
                fed_in, withdrawn = (0.25, 0.0) if index % 4 == 0 else (0.0, 0.125)
                readings = [
                    Reading(
                        device_id=f"gc-{plant_id}",
                        timestamp=at,
                        interval_s=1,
                        energy_produced_kwh=fed_in,  # a grid meter's export is fed-in
                        energy_consumed_kwh=withdrawn,
                        measuring_point="grid_connection",
                    )
                ]
                sent.add(plant_id, at, fed_in=fed_in, withdrawn=withdrawn)
            else:
                produced, consumed = (0.5, 0.125) if index % 4 == 1 else (0.0625, 0.375)
                readings = [
                    Reading(
                        device_id=f"pv-{plant_id}",
                        timestamp=at,
                        interval_s=1,
                        energy_produced_kwh=produced,
                        measuring_point="generator",
                    ),
                    Reading(
                        device_id=f"load-{plant_id}",
                        timestamp=at,
                        interval_s=1,
                        energy_consumed_kwh=consumed,
                        measuring_point="load",
                    ),
                ]
                sent.add(plant_id, at, produced=produced, consumed=consumed)
            envelope = event(plant_id, readings)
            sent_events.append(envelope)
            partitions.add(await send(producer, envelope))

    async with replica(settings) as (second, second_url), serving(app) as first_url:
        # A client's first connection makes its replica's tally know the
        # community's plants (else it learns them at its next refresh).
        for url in (first_url, second_url):
            await seen(url, community, manager, lambda snapshot: True)
        # Rounds until both replicas' ingestion has stored some of them: each
        # owns some partitions of the group (a rebalance takes a few seconds).
        first_before = app.state.ingestor.points_written
        rounds = 0
        while rounds < 40:
            await round_of_readings(rounds)
            rounds += 1
            await asyncio.sleep(0.5)
            if (
                app.state.ingestor.points_written > first_before
                and second.state.ingestor.points_written > 0
            ):
                break
        assert len(partitions) > 1, "the plants' keys fell on one partition"
        await asyncio.sleep(1)  # both have stored their part of the last round
        first_stored = app.state.ingestor.points_written - first_before
        second_stored = second.state.ingestor.points_written
        assert first_stored > 0 and second_stored > 0, (first_stored, second_stored)

        expected = sent.expected()
        assert expected["shared_kwh"] > 0
        for url in (first_url, second_url):
            await seen(url, community, manager, matches(expected))

        # A record read twice (a redelivery, a device sending again) counts once:
        # the first round again, then one new reading; the figure is the new one's.
        for envelope in sent_events[: len(plants)]:
            await send(producer, envelope)
        later = start + timedelta(seconds=rounds)
        await send(
            producer,
            event(
                plants[0],
                [
                    Reading(
                        device_id=f"gc-{plants[0]}",
                        timestamp=later,
                        interval_s=1,
                        energy_produced_kwh=1.0,
                        measuring_point="grid_connection",
                    )
                ],
            ),
        )
        sent.add(plants[0], later, fed_in=1.0, withdrawn=0.0)
        expected = sent.expected()
        for url in (first_url, second_url):
            await seen(url, community, manager, matches(expected))

    # A replica started now (a restart, or a partition moved to it) shows the
    # day so far: it reads the partitions again from the day's start.
    async with replica(settings) as (third, third_url):
        snapshot = await seen(third_url, community, manager, matches(expected))
        assert snapshot["today"]["shared_kwh"] == expected["shared_kwh"]
        # Its reader losing the broker reads the day again: nothing doubles.
        feed: LiveFeed = third.state.live_feed
        await feed.stop()
        feed.start()
        snapshot = await seen(third_url, community, manager, matches(expected))
        assert snapshot["today"]["withdrawn_kwh"] == pytest.approx(expected["withdrawn_kwh"])


def test_the_feed_reads_what_the_ingestion_stores_and_skips_its_dead_letters() -> None:
    valid = event(
        7,
        [
            Reading(
                device_id="gc",
                timestamp=datetime(2026, 12, 5, 12, tzinfo=UTC),
                interval_s=60,
                energy_produced_kwh=0.5,
                measuring_point="grid_connection",
            )
        ],
    )
    # A number as a string: not the fast reader's, but the catalogue's.
    slow = valid.model_dump_json().replace('"interval_s":60', '"interval_s":"60"').encode()
    points = records_points([b"not json", valid.model_dump_json().encode(), None, slow])
    assert [(p.plant_id, p.values["energy_fed_in_kwh"]) for p in points] == [(7, 0.5), (7, 0.5)]
