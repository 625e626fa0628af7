"""``measurement.accepted`` events as the bridge writes them: fast.

At thousands of readings a second the catalogue's pydantic models cost more
than everything else the bridge does (a ``Reading``, an event and its envelope
per plant, ~60 us; aiokafka's per-record ``send`` another ~100 us). Here a
reading is a plain dict with the catalogue's field names, the envelope is
written by orjson in the shape ``EventEnvelope.model_dump_json`` gives
(tests/test_measurement_events.py holds the two together), and records go to
Kafka in one batch per partition, on the partition aiokafka's default
partitioner picks for the key (the same as every other producer of the topic).
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2
from cerc_shared.events.iot import MeasurementsAccepted
from cerc_shared.kafka import CORRELATION_HEADER, EVENT_TYPE_HEADER

TYPE = "measurement.accepted"
VERSION = 1
HEADERS = [(CORRELATION_HEADER, b""), (EVENT_TYPE_HEADER, TYPE.encode())]
TOPIC = MeasurementsAccepted.topic

Reading = dict[str, Any]


def reading(
    *,
    device_id: str,
    timestamp: datetime,
    interval_s: int | None,
    energy_produced_kwh: float | None,
    energy_consumed_kwh: float | None,
    power_produced_kw: float | None,
    power_consumed_kw: float | None,
    voltage: float | None,
    current: float | None,
    frequency: float | None,
    power_factor: float | None,
    energy_fed_in_kwh: float | None = None,
    energy_withdrawn_kwh: float | None = None,
    measuring_point: str | None = None,
) -> Reading:
    """One ``Reading`` of the catalogue (the bridge computed and checked its
    values). Keywords only: eleven values, most of them floats, are too easily
    passed in the wrong order (a keyword costs ~60 ns a reading, against the
    bridge's ~50 us)."""
    return {
        "device_id": device_id,
        "timestamp": timestamp,
        "interval_s": interval_s,
        "energy_produced_kwh": energy_produced_kwh,
        "energy_consumed_kwh": energy_consumed_kwh,
        "energy_fed_in_kwh": energy_fed_in_kwh,
        "energy_withdrawn_kwh": energy_withdrawn_kwh,
        "measuring_point": measuring_point,
        "power_produced_kw": power_produced_kw,
        "power_consumed_kw": power_consumed_kw,
        "voltage": voltage,
        "current": current,
        "frequency": frequency,
        "power_factor": power_factor,
    }


def encode(plant_id: int, readings: list[Reading], *, producer: str, at: datetime) -> bytes:
    """The envelope of one plant's ``MeasurementsAccepted``, as JSON."""
    key = str(plant_id)
    return orjson.dumps(
        {
            "id": str(uuid.uuid4()),
            "type": TYPE,
            "version": VERSION,
            "occurred_at": at,
            "producer": producer,
            "correlation_id": None,
            "key": key,
            "data": {
                "type": TYPE,
                "version": VERSION,
                "plant_id": plant_id,
                "source": "iot",
                "readings": readings,
            },
        },
        option=orjson.OPT_UTC_Z,
    )


@functools.lru_cache(maxsize=2**17)
def _key_hash(key: bytes) -> int:
    """murmur2 of a plant's key, remembered: aiokafka's is pure Python (~3 us),
    and the same plants come back batch after batch."""
    hashed: int = murmur2(key) & 0x7FFFFFFF
    return hashed


class PartitionBatches:
    """Records of one topic gathered into one batch per partition, then sent."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, partitions: list[int]) -> None:
        self._producer = producer
        self._topic = topic
        self._partitions = partitions
        self._open: dict[int, Any] = {}
        self._full: list[tuple[int, Any]] = []

    @classmethod
    async def open(cls, producer: AIOKafkaProducer, topic: str) -> PartitionBatches:
        return cls(producer, topic, sorted(await producer.partitions_for(topic)))

    def partition(self, key: bytes) -> int:
        # aiokafka's DefaultPartitioner (Kafka's murmur2), so keys land where
        # producer.send would put them.
        index: int = _key_hash(key) % len(self._partitions)
        return self._partitions[index]

    def add(self, key: bytes, value: bytes) -> None:
        partition = self.partition(key)
        batch = self._open.get(partition)
        if batch is None:
            batch = self._open[partition] = self._producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None, headers=HEADERS) is None:
            self._full.append((partition, batch))
            batch = self._open[partition] = self._producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None, headers=HEADERS) is None:
                raise ValueError(f"an event of {len(value)} bytes does not fit in a batch")

    async def send(self) -> list[Any]:
        """Queue every batch; the futures resolve when the broker has them."""
        futures = []
        for partition, batch in [*self._full, *self._open.items()]:
            batch.close()
            futures.append(await self._producer.send_batch(batch, self._topic, partition=partition))
        self._full, self._open = [], {}
        return futures
