"""One batch of device messages: parse, compute, write, send (steps 1 to 4
of the package's docstring); the MQTT acks are the runner's."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaProducer
from cerc_shared.metrics import DEAD_LETTERS
from cerc_shared.outbox import record_many
from prometheus_client import Counter
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iot_service import adapters, measurement_events
from iot_service.counters import advance
from iot_service.models import outbox
from iot_service.mqtt.topics import DeviceTopic, parse_topic
from iot_service.repository import (
    CommandRepository,
    DeviceRepository,
    SeenDevice,
    last_seen_due,
)
from iot_service.service import status_event
from iot_service.settings import IotSettings

log = logging.getLogger("iot_service.bridge")

PRODUCER = "iot-bridge"

# On the health port's /metrics (runner.health_server).
READINGS = Counter("iot_bridge_readings_total", "Readings sent to Kafka by the bridge")
MAX_READINGS_PER_EVENT = 500


@dataclass(frozen=True, slots=True)
class Inbound:
    topic: str
    payload: bytes
    received_at: datetime


@dataclass
class BatchResult:
    readings: int = 0
    events: int = 0
    dead_lettered: int = 0
    ignored: int = 0
    stale: int = 0
    statuses: int = 0
    acks: int = 0
    dead_letter_reasons: list[str] = field(default_factory=list)


@dataclass
class _Work:
    """What one batch will write, gathered before anything is sent."""

    readings: dict[int, list[measurement_events.Reading]] = field(
        default_factory=lambda: defaultdict(list)
    )
    dead: list[tuple[Inbound, str]] = field(default_factory=list)
    # Devices whose registers moved (their counter state is written).
    moved: set[str] = field(default_factory=set)


class _Conflict(Exception):
    """A device read unlocked changed before the batch wrote it."""


_DEADLOCK = "40P01"


class Bridge:
    """Processes batches: parse, compute, send to Kafka, commit (MQTT acks are the caller's)."""

    def __init__(
        self,
        settings: IotSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
    ) -> None:
        self.settings = settings
        self._sessionmaker = sessionmaker
        self._producer = producer
        self._zone = ZoneInfo(settings.naive_time_zone)
        self._max_skew = timedelta(seconds=settings.bridge_max_clock_skew_s)
        self.totals = BatchResult()
        # Batches redone locked because a device changed under the unlocked attempt.
        self.conflicts = 0

    async def process(self, batch: Sequence[Inbound]) -> BatchResult:
        """One batch, in one transaction (see the package's docstring for how
        batches in flight at once are kept apart)."""
        result = await self._process(batch)
        self._add_totals(result)
        return result

    async def _process(self, batch: Sequence[Inbound]) -> BatchResult:
        parsed: list[tuple[Inbound, DeviceTopic, Any]] = []
        unusable: list[tuple[Inbound, str]] = []
        ignored = 0
        for message in batch:
            topic = parse_topic(message.topic)
            if topic is None:
                unusable.append((message, "topic outside energy/plant/{p}/device/{d}/..."))
                continue
            try:
                parsed.append((message, topic, self._parse(topic, message.payload)))
            except adapters.Ignored:
                ignored += 1
            except adapters.Unusable as exc:
                unusable.append((message, str(exc)))
        try:
            result = await self._attempt(parsed, unusable, lock=False)
        except _Conflict:
            # Another transaction changed one of these devices since it was
            # read (another replica, the OFFLINE detector, the API): nothing
            # was sent or kept; again, with the devices locked.
            self.conflicts += 1
            result = await self._attempt(parsed, unusable, lock=True)
        result.ignored = ignored
        return result

    async def _attempt(
        self,
        parsed: list[tuple[Inbound, DeviceTopic, Any]],
        unusable: list[tuple[Inbound, str]],
        *,
        lock: bool,
    ) -> BatchResult:
        """The batch in one transaction: read the devices (locked, or not and
        checked when written), compute, write, send; raises _Conflict, having
        sent nothing, if an unlocked device changed meanwhile."""
        result = BatchResult()
        work = _Work(dead=list(unusable))
        async with self._sessionmaker() as session, session.begin():
            repository = DeviceRepository(session)
            devices = await repository.for_bridge((t.device_id for _, t, _ in parsed), lock=lock)
            before = {d.id: _Stored.of(d) for d in devices.values()}
            seen: dict[str, SeenDevice] = {}
            acks: list[tuple[adapters.Ack, str, datetime]] = []
            for message, topic, item in parsed:
                device = devices.get(topic.device_id)
                refusal = self._refusal(device, topic)
                if refusal:
                    work.dead.append((message, refusal))
                    continue
                assert device is not None
                if isinstance(item, adapters.Sample):
                    skew = item.timestamp - message.received_at
                    if skew > self._max_skew:
                        work.dead.append((message, f"timestamp {skew} in the future"))
                        continue
                    reading = self._reading(device, topic, item, work)
                    if reading is None:
                        result.stale += 1
                    else:
                        work.readings[device.plant_id].append(reading)
                    _seen(device, message.received_at, item.battery_level, item.signal_strength)
                    if device.status == "OFFLINE":
                        device.status, device.status_detail = "ONLINE", None
                elif isinstance(item, adapters.StatusReport):
                    result.statuses += 1
                    _seen(device, message.received_at, item.battery_level, item.signal_strength)
                    device.status = item.state
                    device.status_detail = item.detail if item.state == "ERROR" else None
                elif isinstance(item, adapters.Ack):
                    result.acks += 1
                    _seen(device, message.received_at, None, None)
                    acks.append((item, device.id, message.received_at))
                seen[device.id] = device
            touched = {d.id for d in seen.values() if before[d.id].changed(d)}
            try:
                saved = await repository.save_for_bridge(
                    [d for d in seen.values() if d.id in touched or d.id in work.moved], touched
                )
            except DBAPIError as exc:
                if lock or getattr(exc.orig, "sqlstate", None) != _DEADLOCK:
                    raise
                # The unlocked write waited for rows a locked batch of another
                # replica holds, in another order: PostgreSQL ended one of them.
                raise _Conflict from exc
            if not saved:
                if lock:
                    raise RuntimeError("a locked device changed under its lock")
                raise _Conflict
            commands = CommandRepository(session)
            for ack, device_id, at in acks:
                await commands.record_ack(ack.command_id, device_id, ack.result, ack.detail, at)
            await record_many(
                session,
                outbox,
                [
                    status_event(d, before[d.id].status)
                    for d in seen.values()
                    if d.status != before[d.id].status
                ],
                producer=PRODUCER,
            )
            result.events = await self._send(work)
        result.readings = sum(len(r) for r in work.readings.values())
        result.dead_lettered = len(work.dead)
        result.dead_letter_reasons = [reason for _, reason in work.dead]
        return result

    def _parse(self, topic: DeviceTopic, payload: bytes) -> Any:
        if topic.channel == "measurements":
            return adapters.parse_measurement(topic, payload, self._zone)
        if topic.channel == "status":
            return adapters.parse_status(topic, payload)
        return adapters.parse_ack(payload)

    @staticmethod
    def _refusal(device: SeenDevice | None, topic: DeviceTopic) -> str | None:
        if device is None:
            return "unknown device"
        if device.revoked:
            return "device revoked"
        if device.plant_id != topic.plant_id:
            return f"device belongs to plant {device.plant_id}, not {topic.plant_id}"
        return None

    def _reading(
        self, device: SeenDevice, topic: DeviceTopic, sample: adapters.Sample, work: _Work
    ) -> measurement_events.Reading | None:
        energy: dict[str, float | None] = dict(sample.interval_energy)
        interval_s = sample.interval_s
        fresh = not sample.registers
        fmt = topic.format
        states = device.registers
        for name, kwh in sample.registers.items():
            key = f"{fmt}:{name}"
            step = advance(states.get(key), sample.timestamp, kwh)
            if step.outcome == "stale":
                continue
            states[key] = step.state
            work.moved.add(device.id)
            fresh = True
            energy[name] = step.energy_kwh
            if step.since is not None:
                span = max(1, round((sample.timestamp - step.since).total_seconds()))
                interval_s = max(interval_s or 0, span)
        if not fresh:
            return None
        produced, consumed = energy.get(adapters.PRODUCED), energy.get(adapters.CONSUMED)
        return measurement_events.reading(
            device_id=device.id,
            timestamp=sample.timestamp,
            # The span the energy covers; none when the reading carries no energy.
            interval_s=interval_s if produced is not None or consumed is not None else None,
            energy_produced_kwh=produced,
            energy_consumed_kwh=consumed,
            power_produced_kw=sample.power_produced_kw,
            power_consumed_kw=sample.power_consumed_kw,
            voltage=sample.voltage,
            current=sample.current,
            frequency=sample.frequency,
            power_factor=sample.power_factor,
        )

    async def _send(self, work: _Work) -> int:
        futures = []
        events = 0
        if work.readings:
            at = datetime.now(UTC)
            batches = await measurement_events.PartitionBatches.open(
                self._producer, self.settings.topic(measurement_events.TOPIC)
            )
            for plant_id, readings in sorted(work.readings.items()):
                for start in range(0, len(readings), MAX_READINGS_PER_EVENT):
                    chunk = readings[start : start + MAX_READINGS_PER_EVENT]
                    batches.add(
                        str(plant_id).encode(),
                        measurement_events.encode(plant_id, chunk, producer=PRODUCER, at=at),
                    )
                    events += 1
            futures.extend(await batches.send())
        for message, reason in work.dead:
            log.warning("dead-lettering %s: %s", message.topic, reason)
            futures.append(
                await self._producer.send(
                    self.settings.topic(self.settings.bridge_dlq_topic),
                    value=message.payload,
                    key=message.topic.encode(),
                    headers=[
                        ("reason", reason.encode()[:1000]),
                        ("mqtt_topic", message.topic.encode()),
                        ("received_at", message.received_at.isoformat().encode()),
                        ("bridge", PRODUCER.encode()),
                    ],
                )
            )
        if futures:
            await asyncio.wait_for(asyncio.gather(*futures), timeout=30)
        return events

    def _add_totals(self, result: BatchResult) -> None:
        READINGS.inc(result.readings)
        if result.dead_lettered:
            dlq = self.settings.topic(self.settings.bridge_dlq_topic)
            DEAD_LETTERS.labels(dlq, PRODUCER).inc(result.dead_lettered)
        t = self.totals
        t.readings += result.readings
        t.events += result.events
        t.dead_lettered += result.dead_lettered
        t.ignored += result.ignored
        t.stale += result.stale
        t.statuses += result.statuses
        t.acks += result.acks


class _Stored(NamedTuple):
    """A device's row as the batch found it."""

    status: str
    status_detail: str | None
    last_seen: datetime | None
    battery_level: float | None
    signal_strength: float | None

    @classmethod
    def of(cls, d: SeenDevice) -> _Stored:
        return cls(d.status, d.status_detail, d.last_seen, d.battery_level, d.signal_strength)

    def changed(self, d: SeenDevice) -> bool:
        """Whether the row must be written: anything but last_seen changed, or
        last_seen is due (a later one alone is written only now and then)."""
        return (
            d.status != self.status
            or d.status_detail != self.status_detail
            or d.battery_level != self.battery_level
            or d.signal_strength != self.signal_strength
            or last_seen_due(self.last_seen, d.last_seen, d.interval_s)
        )


def _seen(
    device: SeenDevice, at: datetime, battery: float | None, signal_strength: float | None
) -> None:
    if device.last_seen is None or at > device.last_seen:
        device.last_seen = at
    if battery is not None:
        device.battery_level = battery
    if signal_strength is not None:
        device.signal_strength = signal_strength
