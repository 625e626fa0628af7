"""The MQTT bridge: devices' messages in, accepted readings out to Kafka.

    python -m iot_service.bridge

Replicas share the subscription (``$share/<group>/...``), so each message goes
to one of them. Each replica connects with a stable client id and a
persistent session (clean_session false) at QoS 1: what devices publish while
a replica is down waits in the broker for it.

Exactly-once-stored, step by step, for one batch of messages:
  1. parse and validate (a message that cannot be used goes to the dead-letter
     topic with the reason, and counts as handled);
  2. in one Postgres transaction, read the batch's devices, each with its
     counter state on its own row, without locking them; turn registers into
     interval energy (counters.py); write the counter state back, and the
     devices' status (a device whose only news is a later last_seen is
     written once its stored last_seen is a quarter of its interval old:
     repository.LAST_SEEN_SLACK), each row only if it is still the version
     read (set-based statements). If any is not (another replica, the OFFLINE
     detector or the API changed it meanwhile), nothing has been sent yet:
     the transaction is rolled back and the batch done again from 1's result
     with its devices locked (in id order, so replicas serialise per device
     and never deadlock), when no row can change under it;
  3. send the readings (``MeasurementsAccepted``, one event per plant, keyed by
     plant) and dead letters to Kafka and wait for the broker's acks=all;
  4. commit the counter state, device status and command acks;
  5. only then PUBACK the MQTT messages, in the order received.
A crash before 3 completes redelivers and recomputes the same readings; a
crash between 3 and 4 redelivers and recomputes the same readings again (the
state was not committed), which the energy service stores once per (device,
timestamp); a crash between 4 and 5 redelivers readings whose registers
already moved past them: they are stale and not published again. What makes
this hold is the counter state, written with every reading that moves a
register; last_seen plays no part in it, which is why it may lag. If Kafka or
Postgres fails, the bridge drops its MQTT connection without acking and
reconnects, and the broker redelivers.

Pipelining. Most of a batch's time is spent waiting (Postgres, Kafka's acks),
so up to ``bridge_in_flight`` batches are processed at once, each in its own
transaction, and the guarantees above still hold as if they ran one by one:
  * per device, batches commit in the order received: a batch's messages for
    a device that an earlier batch still in flight has are split off and
    processed, in their own transaction, only once every such earlier batch
    has committed (and not at all if one of them did not), so they read the
    state it left; the rest of the batch goes ahead at once. Batches in flight
    therefore never share a device, and never wait for each other's locks;
  * a transaction changes only rows still as it read them, or locks its
    devices in id order and waits for nothing else while holding them, so
    replicas serialise per device. Rows an unlocked write waits for are taken
    in the order of their place in the table; should that deadlock with a
    locked batch of another replica (it takes a device the batch has, at the
    same moment), PostgreSQL ends one: the unlocked batch is then done again
    locked, a locked one fails like any Postgres error and is redelivered;
  * PUBACKs go out batch by batch in the order received, a batch's only once
    all of it committed and every batch before it was acknowledged. A failure
    ends the MQTT session with the failed batch and every later one
    unacknowledged, and the broker redelivers them; a later batch that did
    commit only holds devices the failed one did not, so the redelivery reads
    the same state for them as before: the situation after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import signal
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import uvloop
from aiokafka import AIOKafkaProducer
from cerc_shared import db
from cerc_shared.kafka import new_producer
from cerc_shared.logging import configure_logging
from cerc_shared.outbox import record_many
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from iot_service import adapters, measurement_events
from iot_service.counters import advance
from iot_service.models import outbox
from iot_service.mqtt.topics import DeviceTopic, bridge_subscriptions, parse_topic
from iot_service.mqtt.wire import MqttSubscriber, Received
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
        """One batch, in one transaction (see the module's docstring for how
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
            device.id,
            sample.timestamp,
            # The span the energy covers; none when the reading carries no energy.
            interval_s if produced is not None or consumed is not None else None,
            produced,
            consumed,
            sample.power_produced_kw,
            sample.power_consumed_kw,
            sample.voltage,
            sample.current,
            sample.frequency,
            sample.power_factor,
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
        t = self.totals
        t.readings += result.readings
        t.events += result.events
        t.dead_lettered += result.dead_lettered
        t.ignored += result.ignored
        t.stale += result.stale
        t.statuses += result.statuses
        t.acks += result.acks


def _device_of(topic: str) -> str:
    """The device a message is about, as far as keeping batches apart goes
    (the topic's device segment; a malformed topic is its own key)."""
    parts = topic.split("/", 5)
    return parts[4] if len(parts) > 4 else topic


async def _after(
    earlier: set[asyncio.Task[BatchResult]],
    process: Callable[[list[Inbound]], Awaitable[BatchResult]],
    part: list[Inbound],
) -> BatchResult:
    """``process(part)`` once every ``earlier`` task committed; raises if one did not."""
    for task in earlier:
        await asyncio.shield(task)
    return await process(part)


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


# ------------------------------------------------------------------ the loop


def create_engine(settings: IotSettings) -> AsyncEngine:
    """The bridge's engine: the services' one (db.create_engine) less the ping
    before each checkout, a round trip per batch. A connection that died is
    found by the batch's first statement instead, which fails the batch: the
    bridge reconnects and the broker redelivers, as for any Postgres failure.

    Every statement of the bridge is by key, for at most a batch of devices:
    a sequential scan of devices is never what it wants, though the planner
    picks one (and a hash join over the whole table) when a batch is large
    next to the table, as in a small deployment; it is kept to the keys."""
    return db.create_engine(settings, pre_ping=False, server_settings={"enable_seqscan": "off"})


def client_id(settings: IotSettings) -> str:
    return settings.bridge_client_id or f"cerc-bridge-{socket.gethostname()}"


class BridgeRunner:
    """Keeps one MQTT session and feeds it, batch by batch, to :class:`Bridge`."""

    def __init__(self, settings: IotSettings) -> None:
        self.settings = settings
        self.connected = False
        self.last_progress = time.monotonic()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        s = self.settings
        engine = create_engine(s)
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
        subscriber = await MqttSubscriber.connect(
            s.mqtt_host,
            s.mqtt_port,
            client_id=client_id(s),
            username=s.mqtt_bridge_username,
            password=s.mqtt_bridge_password,
            clean_session=False,
            connect_timeout_s=s.mqtt_timeout_s,
        )
        # Batches in the order received: the tasks processing their parts, and
        # their messages to acknowledge once all parts committed.
        pipeline: asyncio.Queue[tuple[list[asyncio.Task[BatchResult]], list[Received]]]
        pipeline = asyncio.Queue()
        running: set[asyncio.Task[BatchResult]] = set()
        # The task in flight that has each device (the latest, if several).
        holder: dict[str, asyncio.Task[BatchResult]] = {}
        slots = asyncio.Semaphore(max(1, s.bridge_in_flight))

        def start(
            part: list[Inbound], after: set[asyncio.Task[BatchResult]]
        ) -> asyncio.Task[BatchResult]:
            task = asyncio.create_task(_after(after, bridge.process, part))
            running.add(task)
            task.add_done_callback(running.discard)
            devices = {_device_of(m.topic) for m in part}
            for device in devices:
                holder[device] = task

            def release(done: asyncio.Task[BatchResult]) -> None:
                if done.cancelled() or done.exception() is not None:
                    # Keep its devices: what comes later for them must not commit.
                    return
                for device in devices:
                    if holder.get(device) is done:
                        del holder[device]

            task.add_done_callback(release)
            return task

        async def receive() -> None:
            while True:
                await slots.acquire()
                batch = await subscriber.receive(
                    s.bridge_batch_max, s.bridge_batch_linger_s, idle_s=5.0
                )
                if not batch:
                    slots.release()
                    if not running:
                        self.last_progress = time.monotonic()
                    continue
                now = datetime.now(UTC)
                free: list[Inbound] = []
                held: list[Inbound] = []
                after: set[asyncio.Task[BatchResult]] = set()
                for m in batch:
                    inbound = Inbound(m.topic, m.payload, now)
                    earlier = holder.get(_device_of(m.topic))
                    if earlier is None:
                        free.append(inbound)
                    else:
                        held.append(inbound)
                        after.add(earlier)
                parts = [start(part, deps) for part, deps in ((free, set()), (held, after)) if part]
                pipeline.put_nowait((parts, batch))

        async def acknowledge() -> None:
            while True:
                parts, batch = await pipeline.get()
                # A failed part raises here: nothing from it on is acknowledged.
                for part in parts:
                    await part
                subscriber.ack(batch)
                slots.release()
                pipeline.task_done()
                self.last_progress = time.monotonic()

        receiver = asyncio.create_task(receive())
        acker = asyncio.create_task(acknowledge())
        stopper = asyncio.create_task(self._stop.wait())
        helpers: list[asyncio.Future[Any]] = [receiver, acker, stopper]
        try:
            try:
                async with asyncio.timeout(s.mqtt_timeout_s):
                    await subscriber.subscribe(bridge_subscriptions(s.bridge_share_group), qos=1)
            except TimeoutError:
                # Named, so the log says which step of reconnecting failed.
                raise ConnectionError(f"no SUBACK within {s.mqtt_timeout_s} s") from None
            self.connected = True
            log.info("bridge %s subscribed (group %s)", client_id(s), s.bridge_share_group)
            watched: list[asyncio.Future[Any]] = [receiver, acker, stopper, subscriber.closed]
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            if stopper in done:
                # Take no more; let the batches in flight finish and be acknowledged.
                receiver.cancel()
                drained = asyncio.ensure_future(pipeline.join())
                helpers.append(drained)
                finishing: list[asyncio.Future[Any]] = [drained, acker, subscriber.closed]
                await asyncio.wait(
                    finishing,
                    timeout=10,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                return
            for finished in done:
                # Why the session ended (run() reconnects).
                finished.result()
            raise ConnectionError("the bridge's MQTT session ended")
        finally:
            self.connected = False
            # Nothing more is acknowledged on this session; what was not is redelivered.
            for task in [*helpers, *running]:
                task.cancel()
            await asyncio.gather(*helpers, *running, return_exceptions=True)
            await subscriber.close()


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
    # Every message makes a few dozen short-lived objects, and a batch's live
    # while it waits for Postgres and Kafka: at the default threshold (700
    # allocations) the cyclic collector ran every few messages and promoted
    # batches in flight to older generations, whose collections walk the
    # whole heap. What was loaded at start-up is never garbage: frozen, it is
    # left out of every collection. Collections still run (memory stays flat),
    # a hundred times less often.
    gc.freeze()
    gc.set_threshold(70_000, 10, 10)
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
    # uvloop: the MQTT, Kafka and Postgres sockets' reads and writes and the
    # loop's callbacks run in C; on plain asyncio they were a good share of
    # the bridge's CPU per message.
    uvloop.run(_main())


if __name__ == "__main__":
    main()
