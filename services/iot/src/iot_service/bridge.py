"""The MQTT bridge: devices' messages in, accepted readings out to Kafka.

    python -m iot_service.bridge

Replicas share the subscription (``$share/<group>/...``), so each message goes
to one of them. Each replica connects with a stable client id and a
persistent session (clean_session false) at QoS 1: what devices publish while
a replica is down waits in the broker for it.

Exactly-once-stored, step by step, for one batch of messages:
  1. parse and validate (a message that cannot be used goes to the dead-letter
     topic with the reason, and counts as handled);
  2. in one Postgres transaction, lock the batch's devices (in id order, so
     replicas serialise per device and never deadlock) and read their counter
     state; turn registers into interval energy (counters.py);
  3. send the readings (``MeasurementsAccepted``, one event per plant, keyed by
     plant) and dead letters to Kafka and wait for the broker's acks=all;
  4. commit the counter state, device status and command acks;
  5. only then PUBACK the MQTT messages, in the order received.
A crash before 3 completes redelivers and recomputes the same readings; a
crash between 3 and 4 redelivers and recomputes the same readings again (the
state was not committed), which the energy service stores once per (device,
timestamp); a crash between 4 and 5 redelivers readings whose registers
already moved past them: they are stale and not published again. If Kafka or
Postgres fails, the bridge drops its MQTT connection without acking and
reconnects, and the broker redelivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
from aiokafka import AIOKafkaProducer
from cerc_shared import db
from cerc_shared.events import EventEnvelope
from cerc_shared.events.iot import MeasurementsAccepted, Reading
from cerc_shared.kafka import CORRELATION_HEADER, EVENT_TYPE_HEADER, new_producer
from cerc_shared.logging import configure_logging
from cerc_shared.outbox import record
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iot_service import adapters
from iot_service.counters import RegisterState, advance
from iot_service.models import Device, outbox
from iot_service.repository import CommandRepository, CounterRepository, DeviceRepository
from iot_service.service import status_event
from iot_service.settings import IotSettings
from iot_service.topics import DeviceTopic, bridge_subscriptions, parse_topic

log = logging.getLogger("iot_service.bridge")

PRODUCER = "iot-bridge"
MAX_READINGS_PER_EVENT = 500


@dataclass(frozen=True)
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

    readings: dict[int, list[Reading]] = field(default_factory=lambda: defaultdict(list))
    dead: list[tuple[Inbound, str]] = field(default_factory=list)
    registers: dict[tuple[str, str], RegisterState] = field(default_factory=dict)
    moved: set[tuple[str, str]] = field(default_factory=set)


class Bridge:
    """One batch at a time: parse, compute, send to Kafka, commit (MQTT acks are the caller's)."""

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
        self.totals = BatchResult()

    async def process(self, batch: Sequence[Inbound]) -> BatchResult:
        result = BatchResult()
        parsed: list[tuple[Inbound, DeviceTopic, Any]] = []
        work = _Work()
        for message in batch:
            topic = parse_topic(message.topic)
            if topic is None:
                work.dead.append((message, "topic outside energy/plant/{p}/device/{d}/..."))
                continue
            try:
                parsed.append((message, topic, self._parse(topic, message.payload)))
            except adapters.Ignored:
                result.ignored += 1
            except adapters.Unusable as exc:
                work.dead.append((message, str(exc)))

        async with self._sessionmaker() as session, session.begin():
            devices = await DeviceRepository(session).lock_many(t.device_id for _, t, _ in parsed)
            counters = CounterRepository(session)
            states = await counters.for_devices(devices)
            for (device_id, register), row in states.items():
                work.registers[(device_id, register)] = RegisterState(row.last_ts, row.last_kwh)
            changed: dict[str, str] = {}
            for message, topic, item in parsed:
                device = devices.get(topic.device_id)
                refusal = self._refusal(device, topic)
                if refusal:
                    work.dead.append((message, refusal))
                    continue
                assert device is not None
                previous = device.status
                if isinstance(item, adapters.Sample):
                    skew = item.timestamp - message.received_at
                    if skew > timedelta(seconds=self.settings.bridge_max_clock_skew_s):
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
                    await CommandRepository(session).record_ack(
                        item.command_id, device.id, item.result, item.detail, message.received_at
                    )
                if device.status != previous:
                    changed.setdefault(device.id, previous)
            for device_id, previous in changed.items():
                device = devices[device_id]
                if device.status != previous:
                    await record(session, outbox, status_event(device, previous), producer=PRODUCER)

            result.events = await self._send(work)
            await counters.save(
                (d, r, work.registers[(d, r)].ts, work.registers[(d, r)].kwh) for d, r in work.moved
            )
        result.readings = sum(len(r) for r in work.readings.values())
        result.dead_lettered = len(work.dead)
        result.dead_letter_reasons = [reason for _, reason in work.dead]
        self._add_totals(result)
        return result

    def _parse(self, topic: DeviceTopic, payload: bytes) -> Any:
        if topic.channel == "measurements":
            return adapters.parse_measurement(topic, payload, self._zone)
        if topic.channel == "status":
            return adapters.parse_status(topic, payload)
        return adapters.parse_ack(payload)

    @staticmethod
    def _refusal(device: Device | None, topic: DeviceTopic) -> str | None:
        if device is None:
            return "unknown device"
        if device.revoked:
            return "device revoked"
        if device.plant_id != topic.plant_id:
            return f"device belongs to plant {device.plant_id}, not {topic.plant_id}"
        return None

    def _reading(
        self, device: Device, topic: DeviceTopic, sample: adapters.Sample, work: _Work
    ) -> Reading | None:
        energy: dict[str, float | None] = dict(sample.interval_energy)
        interval_s = sample.interval_s
        fresh = not sample.registers
        for name, kwh in sample.registers.items():
            key = (device.id, f"{topic.format}:{name}")
            step = advance(work.registers.get(key), sample.timestamp, kwh)
            if step.outcome == "stale":
                continue
            work.registers[key] = step.state
            work.moved.add(key)
            fresh = True
            energy[name] = step.energy_kwh
            if step.since is not None:
                span = max(1, round((sample.timestamp - step.since).total_seconds()))
                interval_s = max(interval_s or 0, span)
        if not fresh:
            return None
        return Reading(
            device_id=device.id,
            timestamp=sample.timestamp,
            # The span the energy covers; none when the reading carries no energy.
            interval_s=interval_s if any(v is not None for v in energy.values()) else None,
            energy_produced_kwh=energy.get(adapters.PRODUCED),
            energy_consumed_kwh=energy.get(adapters.CONSUMED),
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
        for plant_id, readings in sorted(work.readings.items()):
            for start in range(0, len(readings), MAX_READINGS_PER_EVENT):
                event = MeasurementsAccepted(
                    plant_id=plant_id,
                    source="iot",
                    readings=readings[start : start + MAX_READINGS_PER_EVENT],
                )
                envelope = EventEnvelope.wrap(event, producer=PRODUCER, correlation_id=None)
                futures.append(
                    await self._producer.send(
                        self.settings.topic(envelope.topic),
                        value=envelope.model_dump_json().encode(),
                        key=envelope.key.encode(),
                        headers=[
                            (CORRELATION_HEADER, b""),
                            (EVENT_TYPE_HEADER, envelope.type.encode()),
                        ],
                    )
                )
                events += 1
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
        t = self.totals
        t.readings += result.readings
        t.events += result.events
        t.dead_lettered += result.dead_lettered
        t.ignored += result.ignored
        t.stale += result.stale
        t.statuses += result.statuses
        t.acks += result.acks


def _seen(
    device: Device, at: datetime, battery: float | None, signal_strength: float | None
) -> None:
    if device.last_seen is None or at > device.last_seen:
        device.last_seen = at
    if battery is not None:
        device.battery_level = battery
    if signal_strength is not None:
        device.signal_strength = signal_strength


# ------------------------------------------------------------------ the loop


class _AckingClient(aiomqtt.Client):
    """aiomqtt 2.5 has no manual acknowledgement option, but its paho-mqtt (2.x)
    does: switch it on before connecting (a persistent session's queued messages
    arrive right after CONNACK) and acknowledge through paho."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client.manual_ack_set(True)

    def ack(self, message: aiomqtt.Message) -> None:
        self._client.ack(message.mid, message.qos)


def client_id(settings: IotSettings) -> str:
    return settings.bridge_client_id or f"cerc-bridge-{socket.gethostname()}"


class BridgeRunner:
    """Keeps one MQTT session and feeds batches to :class:`Bridge`."""

    def __init__(self, settings: IotSettings) -> None:
        self.settings = settings
        self.connected = False
        self.last_progress = time.monotonic()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        s = self.settings
        engine = db.create_engine(s)
        sessionmaker = db.create_sessionmaker(engine)
        backoff = 0.5
        try:
            while not self._stop.is_set():
                producer = new_producer(s.kafka_bootstrap, f"iot-bridge-{client_id(s)}")
                try:
                    await producer.start()
                    await self._session(Bridge(s, sessionmaker, producer))
                    backoff = 0.5
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("bridge connection lost (%s); reconnecting in %.1fs", exc, backoff)
                    self.connected = False
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), timeout=backoff)
                    backoff = min(backoff * 2, 10.0)
                finally:
                    with contextlib.suppress(Exception):
                        await producer.stop()
        finally:
            await engine.dispose()

    async def _session(self, bridge: Bridge) -> None:
        s = self.settings
        async with _AckingClient(
            s.mqtt_host,
            s.mqtt_port,
            username=s.mqtt_bridge_username,
            password=s.mqtt_bridge_password,
            identifier=client_id(s),
            clean_session=False,
            timeout=s.mqtt_timeout_s,
            max_inflight_messages=max(20, s.bridge_batch_max),
        ) as client:
            for topic in bridge_subscriptions(s.bridge_share_group):
                await client.subscribe(topic, qos=1)
            self.connected = True
            log.info("bridge %s subscribed (group %s)", client_id(s), s.bridge_share_group)
            queue: asyncio.Queue[aiomqtt.Message] = asyncio.Queue()

            async def pump() -> None:
                async for message in client.messages:
                    await queue.put(message)

            reader = asyncio.create_task(pump())
            stopper = asyncio.create_task(self._stop.wait())
            try:
                while not self._stop.is_set():
                    batch = await self._next_batch(queue, reader, stopper)
                    if not batch:
                        continue
                    now = datetime.now(UTC)
                    await bridge.process(
                        [Inbound(str(m.topic), _payload_bytes(m.payload), now) for m in batch]
                    )
                    for message in batch:
                        client.ack(message)
                    self.last_progress = time.monotonic()
            finally:
                self.connected = False
                for task in (reader, stopper):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                        await task

    async def _next_batch(
        self,
        queue: asyncio.Queue[aiomqtt.Message],
        reader: asyncio.Task[None],
        stopper: asyncio.Task[bool],
    ) -> list[aiomqtt.Message]:
        getter = asyncio.ensure_future(queue.get())
        done, _ = await asyncio.wait(
            {getter, reader, stopper}, timeout=5.0, return_when=asyncio.FIRST_COMPLETED
        )
        if getter not in done:
            getter.cancel()
            if reader in done:
                # The connection ended: surface why, so run() reconnects.
                reader.result()
                raise aiomqtt.MqttError("message stream ended")
            self.last_progress = time.monotonic()
            return []
        batch = [getter.result()]
        deadline = time.monotonic() + self.settings.bridge_batch_linger_s
        while len(batch) < self.settings.bridge_batch_max:
            remaining = deadline - time.monotonic()
            try:
                batch.append(
                    queue.get_nowait()
                    if not queue.empty() or remaining <= 0
                    else await asyncio.wait_for(queue.get(), remaining)
                )
            except (asyncio.QueueEmpty, TimeoutError):
                break
        return batch


def _payload_bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if payload is None:
        return b""
    return str(payload).encode()


async def _health_server(runner: BridgeRunner, port: int) -> asyncio.Server:
    """GET anything: 200 while connected and making progress, else 503."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader.readline(), timeout=2)
        healthy = runner.connected and time.monotonic() - runner.last_progress < 60
        body = json.dumps({"connected": runner.connected}).encode()
        status = b"200 OK" if healthy else b"503 Service Unavailable"
        writer.write(
            b"HTTP/1.1 "
            + status
            + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + body
        )
        with contextlib.suppress(Exception):
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "0.0.0.0", port)  # noqa: S104 - probe port


async def _main() -> None:
    settings = IotSettings()
    configure_logging(f"{settings.service_name}-bridge", settings.log_level)
    runner = BridgeRunner(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, runner.stop)
    server = (
        await _health_server(runner, settings.bridge_health_port)
        if settings.bridge_health_port
        else None
    )
    try:
        await runner.run()
    finally:
        if server is not None:
            server.close()


def main() -> None:
    asyncio.run(_main())


if __name__ == "__main__":
    main()
