"""The bridge's fast encoding of measurement.accepted is the catalogue's event."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka.partitioner import DefaultPartitioner
from cerc_shared.events import EventEnvelope
from cerc_shared.events.iot import MeasurementsAccepted, Reading
from iot_service import measurement_events
from iot_service.measurement_events import PartitionBatches


def test_the_encoded_event_reads_back_as_the_catalogues_with_every_value() -> None:
    at = datetime(2025, 9, 4, 10, 0, 0, 250_000, tzinfo=UTC)
    readings = [
        measurement_events.reading(
            device_id="meter-1",
            timestamp=at,
            interval_s=900,
            energy_produced_kwh=0.75,
            energy_consumed_kwh=None,
            power_produced_kw=2.0,
            power_consumed_kw=0.0,
            voltage=230.5,
            current=3.2,
            frequency=50.0,
            power_factor=0.97,
        ),
        measurement_events.reading(
            device_id="meter-2",
            timestamp=at,
            interval_s=None,
            energy_produced_kwh=None,
            energy_consumed_kwh=None,
            power_produced_kw=None,
            power_consumed_kw=None,
            voltage=None,
            current=None,
            frequency=None,
            power_factor=None,
        ),
    ]
    raw = measurement_events.encode(1234, readings, producer="iot-bridge", at=at)
    envelope = EventEnvelope.model_validate_json(raw)
    assert (envelope.type, envelope.version, envelope.key) == ("measurement.accepted", 1, "1234")
    assert envelope.producer == "iot-bridge" and envelope.occurred_at == at
    assert envelope.topic == MeasurementsAccepted.topic
    assert envelope.data == MeasurementsAccepted(
        plant_id=1234,
        source="iot",
        readings=[
            Reading(
                device_id="meter-1",
                timestamp=at,
                interval_s=900,
                energy_produced_kwh=0.75,
                power_produced_kw=2.0,
                power_consumed_kw=0.0,
                voltage=230.5,
                current=3.2,
                frequency=50.0,
                power_factor=0.97,
            ),
            Reading(device_id="meter-2", timestamp=at),
        ],
    )
    # Every field of the catalogue's Reading is written, none besides.
    assert set(readings[0]) == set(Reading.model_fields)


def test_keys_go_to_the_partition_aiokafka_would_choose() -> None:
    partitions = [0, 1, 2]
    batches = PartitionBatches(producer=None, topic="t", partitions=partitions)  # type: ignore[arg-type]
    for plant_id in range(1000, 1100):
        key = str(plant_id).encode()
        assert batches.partition(key) == DefaultPartitioner()(key, partitions, partitions)


def test_a_key_seen_before_still_goes_where_aiokafka_would_put_it() -> None:
    """The bridge remembers each key's hash: right again for the same key,
    and for another number of partitions (partitions added to the topic)."""
    for partitions in ([0, 1, 2], [0, 1, 2, 3, 4, 5, 6], [0, 1, 2]):
        batches = PartitionBatches(producer=None, topic="t", partitions=partitions)  # type: ignore[arg-type]
        for plant_id in range(2000, 2050):
            key = str(plant_id).encode()
            assert batches.partition(key) == DefaultPartitioner()(key, partitions, partitions)
