"""Ingestion from real Kafka into real InfluxDB: stored once, with the source,
poison to the dead-letter topic, and nothing lost when a server restarts."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from cerc_shared.events import EventEnvelope
from cerc_shared.events.iot import DeviceStatusChanged, MeasurementsAccepted, Reading
from cerc_shared.testing import eventually, repo_root
from energy_service.ingest import MEASUREMENT_TOPIC, POINTS_WRITTEN, MeasurementIngestor
from energy_service.settings import EnergySettings
from energy_service.timeseries import (
    STATUS_MEASUREMENT,
    EnergyPoint,
    InfluxTimeSeries,
    SeriesQuery,
    TimeSeriesRejected,
    TimeSeriesUnavailable,
)
from fastapi import FastAPI
from prometheus_client import REGISTRY

from .conftest import (
    BOOTSTRAP,
    ensure_topics,
    new_plant_id,
    produce,
    readings_event,
)

EPOCH_OF_TEST = datetime(2025, 1, 15, tzinfo=UTC)
WHOLE_RANGE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
DLQ_TOPIC = MEASUREMENT_TOPIC + ".dlq"


def quarter(i: int) -> datetime:
    return EPOCH_OF_TEST + timedelta(minutes=15 * i)


async def stored(store: InfluxTimeSeries, plant_id: int) -> int:
    _, total = await store.raw_page(
        SeriesQuery(start=WHOLE_RANGE[0], end=WHOLE_RANGE[1], plant_ids=[plant_id]),
        offset=0,
        limit=1,
    )
    return total


async def consumed_kwh(store: InfluxTimeSeries, plant_id: int) -> float:
    sums = await store.energy_sums(
        SeriesQuery(start=WHOLE_RANGE[0], end=WHOLE_RANGE[1], plant_ids=[plant_id]),
        timedelta(days=365),
    )
    return sum(s.energy_consumed_kwh for s in sums)


async def wait_stored(store: InfluxTimeSeries, plant_id: int, count: int, timeout_s: float = 60):
    async def check() -> bool:
        try:
            return await stored(store, plant_id) >= count
        except TimeSeriesUnavailable:  # a server restarting: ask again
            return False

    await eventually(check, f"{count} readings of plant {plant_id} stored", timeout_s)


def infra(script: str, command: str) -> None:
    run = subprocess.run(
        ["bash", str(repo_root() / "infra" / script), command],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert run.returncode == 0, f"infra/{script} {command} failed:\n{run.stdout}\n{run.stderr}"


async def test_readings_and_status_are_stored_with_their_source(
    app: FastAPI, store: InfluxTimeSeries, producer: AIOKafkaProducer
) -> None:
    plant = new_plant_id()
    first = readings_event(plant, [("meter-1", quarter(i), 0.25) for i in (1, 2)])
    # The bridge's first reading of a cumulative register is a baseline with
    # no energy: nothing to store, and no reason to refuse its neighbours.
    baseline = Reading(device_id="meter-2", timestamp=quarter(1), interval_s=None)
    event = first.data
    assert isinstance(event, MeasurementsAccepted)
    with_baseline = MeasurementsAccepted(
        plant_id=plant, source="iot", readings=[baseline, *event.readings]
    )
    dead_before = app.state.ingestor.dead_lettered
    written_before = POINTS_WRITTEN.labels("energy_data")._value.get()
    await produce(producer, EventEnvelope.wrap(with_baseline, producer="iot", correlation_id=None))
    await produce(producer, readings_event(plant, [("gse", quarter(4), 0.4)], source="official"))
    status_at = datetime(2019, 5, 5, 10, 0, tzinfo=UTC)
    status = DeviceStatusChanged(
        device_id="meter-1",
        plant_id=plant,
        status="ONLINE",
        previous="OFFLINE",
        last_seen=status_at,
        battery_level=85,
        signal_strength=-45,
    )
    await produce(producer, EventEnvelope.wrap(status, producer="iot", correlation_id=None))

    await wait_stored(store, plant, 3)
    readings, total = await store.raw_page(
        SeriesQuery(start=WHOLE_RANGE[0], end=WHOLE_RANGE[1], plant_ids=[plant]),
        offset=0,
        limit=10,
    )
    assert total == 3
    assert [(r.device_id, r.timestamp, r.source) for r in readings] == [
        ("meter-1", quarter(1), "iot"),
        ("meter-1", quarter(2), "iot"),
        ("gse", quarter(4), "official"),
    ]
    assert readings[0].values["energy_consumed_kwh"] == 0.25
    assert app.state.ingestor.dead_lettered == dead_before
    assert readings[0].values["energy_produced_kwh"] is None
    # /metrics counts what the store accepted (other tests' points may add to it).
    assert POINTS_WRITTEN.labels("energy_data")._value.get() >= written_before + 3

    async def status_stored() -> bool:
        window = (status_at - timedelta(seconds=1), status_at)
        return await store.count_points(STATUS_MEASUREMENT, *window) == 1

    await eventually(status_stored, "the device status point")


async def test_the_same_reading_delivered_twice_is_stored_once(
    app: FastAPI, store: InfluxTimeSeries, producer: AIOKafkaProducer
) -> None:
    plant = new_plant_id()
    first = readings_event(plant, [("meter-1", quarter(1), 0.25), ("meter-1", quarter(2), 0.5)])
    await produce(producer, first)
    await produce(producer, first)  # redelivered: same event id
    # Another event (another id) with the same device and timestamp: the
    # device re-sent a corrected value. Same point; the later write wins.
    await produce(producer, readings_event(plant, [("meter-1", quarter(1), 0.3)]))
    # Same key, same partition: once this is stored, everything before it is.
    await produce(producer, readings_event(plant, [("meter-1", quarter(9), 1.0)]))

    await wait_stored(store, plant, 3)
    assert await stored(store, plant) == 3
    assert round(await consumed_kwh(store, plant), 6) == 0.3 + 0.5 + 1.0


async def _dlq_ends() -> dict[TopicPartition, int]:
    partitions = await ensure_topics([DLQ_TOPIC])
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def _dead_letters_since(
    starts: dict[TopicPartition, int], wanted: int, timeout_s: float = 30
) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    found: list[tuple[bytes, dict[str, bytes]]] = []
    try:
        consumer.assign(list(starts))
        for tp, offset in starts.items():
            consumer.seek(tp, offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(found) < wanted and loop.time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [(r.value or b"", dict(r.headers)) for r in records]
    finally:
        await consumer.stop()
    return found


async def test_poison_goes_to_the_dead_letter_topic_and_the_next_is_stored(
    app: FastAPI, store: InfluxTimeSeries, producer: AIOKafkaProducer
) -> None:
    ingestor: MeasurementIngestor = app.state.ingestor
    plant = new_plant_id()
    key = str(plant).encode()
    starts = await _dlq_ends()
    dead_before = ingestor.dead_lettered
    dead_metric_before = _dead_letter_metric(ingestor.group_id)

    unreadable = b'{"id": "not-an-event", "readings": []}'
    await producer.send_and_wait(MEASUREMENT_TOPIC, unreadable, key=key)
    # A valid event InfluxDB refuses: its timestamp is past what it can store (2262).
    beyond = readings_event(plant, [("meter-1", datetime(2300, 1, 1, tzinfo=UTC), 1.0)])
    await produce(producer, beyond)
    await produce(producer, readings_event(plant, [("meter-1", quarter(3), 0.75)]))

    await wait_stored(store, plant, 1)
    assert await stored(store, plant) == 1
    letters = await _dead_letters_since(starts, wanted=2)
    unreadable_headers = next(h for v, h in letters if v == unreadable)
    assert unreadable_headers["reason"].startswith(b"unreadable event")
    assert unreadable_headers["source"].startswith(MEASUREMENT_TOPIC.encode() + b"/")
    refused = next(h for v, h in letters if str(beyond.id).encode() in v)
    assert refused["reason"].startswith(b"refused by the time-series store")
    assert b"out of range" in refused["reason"]
    assert ingestor.dead_lettered >= dead_before + 2
    # What the DeadLettersReceived alert reads.
    assert _dead_letter_metric(ingestor.group_id) >= dead_metric_before + 2


def _dead_letter_metric(group_id: str) -> float:
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "dead_letters"
        for sample in metric.samples
        if sample.name == "dead_letters_total" and sample.labels["consumer"] == group_id
    )


async def test_kafka_restart_loses_nothing_and_doubles_nothing(
    app: FastAPI, store: InfluxTimeSeries, producer: AIOKafkaProducer
) -> None:
    plants = [new_plant_id() for _ in range(4)]
    sent = dict.fromkeys(plants, 0)
    expected_kwh = dict.fromkeys(plants, 0.0)

    async def send(batch: range) -> None:
        futures = []
        for i in batch:
            plant = plants[i % len(plants)]
            readings = [("meter-1", quarter(i * 20 + j), 0.01 * (j + 1)) for j in range(20)]
            sent[plant] += len(readings)
            expected_kwh[plant] += sum(kwh for *_, kwh in readings)
            envelope = readings_event(plant, readings)
            futures.append(
                await producer.send(
                    envelope.topic,
                    value=envelope.model_dump_json().encode(),
                    key=envelope.key.encode(),
                )
            )
        await asyncio.gather(*futures)

    await send(range(0, 400))
    infra("kafka.sh", "stop")  # while the ingestion is still working through them
    infra("kafka.sh", "start")
    await send(range(400, 600))

    for plant in plants:
        await wait_stored(store, plant, sent[plant], timeout_s=180)
    for plant in plants:
        assert await stored(store, plant) == sent[plant]
        assert round(await consumed_kwh(store, plant), 6) == round(expected_kwh[plant], 6)


async def test_influxdb_outage_pauses_ingestion_without_losing_data(
    app: FastAPI, store: InfluxTimeSeries, producer: AIOKafkaProducer
) -> None:
    ingestor: MeasurementIngestor = app.state.ingestor
    plant = new_plant_id()
    retries_before = ingestor.write_retries
    failures_before = REGISTRY.get_sample_value("energy_store_write_failures_total") or 0.0
    infra("influxdb.sh", "stop")
    try:
        for i in range(50):
            await produce(
                producer,
                readings_event(plant, [("meter-1", quarter(i * 4 + j), 0.1) for j in range(4)]),
            )

        async def retrying() -> bool:
            return ingestor.write_retries > retries_before

        await eventually(retrying, "the ingestion noticed the outage and retried")
        # What the InfluxDBWriteErrors alert reads.
        failures = REGISTRY.get_sample_value("energy_store_write_failures_total") or 0.0
        assert failures > failures_before
    finally:
        infra("influxdb.sh", "start")
    await wait_stored(store, plant, 200, timeout_s=120)
    assert await stored(store, plant) == 200
    assert round(await consumed_kwh(store, plant), 6) == 20.0


async def test_the_store_tells_refused_data_from_an_unusable_store(
    settings: EnergySettings,
) -> None:
    plant = new_plant_id()
    good = EnergyPoint(plant, "meter-1", "iot", quarter(1), {"energy_consumed_kwh": 0.5})
    beyond = EnergyPoint(plant, "meter-1", "iot", datetime(2300, 1, 1, tzinfo=UTC), {"voltage": 1})
    store = InfluxTimeSeries(settings.influx_url, settings.influx_token, "-", settings.bucket)
    wrong_key = InfluxTimeSeries(settings.influx_url, "cerc:wrong", "-", settings.bucket)
    nowhere = InfluxTimeSeries("http://127.0.0.1:9", settings.influx_token, "-", settings.bucket)
    try:
        await store.write([good])
        assert await stored(store, plant) == 1
        with pytest.raises(TimeSeriesRejected, match="out of range"):
            await store.write([beyond])
        with pytest.raises(TimeSeriesUnavailable, match="HTTP 401"):
            await wrong_key.write([good])
        with pytest.raises(TimeSeriesUnavailable):
            await nowhere.write([good])
    finally:
        for each in (store, wrong_key, nowhere):
            await each.close()
