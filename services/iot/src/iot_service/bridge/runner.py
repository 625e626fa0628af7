"""The bridge's MQTT session: batches received, processed several at a time
without two sharing a device, acknowledged in the order received; its
health probe (see the package's docstring, Pipelining)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from cerc_shared import db
from cerc_shared.kafka import new_producer
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from iot_service.bridge.batch import BatchResult, Bridge, Inbound
from iot_service.mqtt.topics import bridge_subscriptions
from iot_service.mqtt.wire import MqttSubscriber, Received
from iot_service.settings import IotSettings

log = logging.getLogger("iot_service.bridge")

# On the health port's /metrics. Messages taken from the broker and not yet
# acknowledged stay in the broker's queue for this session: at the cap
# (bridge_in_flight * bridge_batch_max) for long, the bridge is not keeping up.
CONNECTED = Gauge("iot_bridge_connected", "1 while the bridge's MQTT session is subscribed")
UNACKNOWLEDGED = Gauge(
    "iot_bridge_unacknowledged_messages", "MQTT messages received and not yet acknowledged"
)
UNACKNOWLEDGED_CAP = Gauge(
    "iot_bridge_unacknowledged_cap", "Most MQTT messages the bridge holds unacknowledged"
)
LAST_PROGRESS = Gauge(
    "iot_bridge_last_progress_timestamp_seconds", "When the bridge last acknowledged a batch"
)


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
                producer = new_producer(
                    s.kafka_bootstrap, f"iot-bridge-{client_id(s)}", s.kafka_client_options()
                )
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
                UNACKNOWLEDGED.inc(len(batch))
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
                UNACKNOWLEDGED.dec(len(batch))
                LAST_PROGRESS.set(time.time())
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
            CONNECTED.set(1)
            UNACKNOWLEDGED_CAP.set(max(1, s.bridge_in_flight) * s.bridge_batch_max)
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
            CONNECTED.set(0)
            UNACKNOWLEDGED.set(0)
            # Nothing more is acknowledged on this session; what was not is redelivered.
            for task in [*helpers, *running]:
                task.cancel()
            await asyncio.gather(*helpers, *running, return_exceptions=True)
            await subscriber.close()


async def health_server(runner: BridgeRunner, port: int) -> asyncio.Server:
    """GET /metrics: the Prometheus metrics; GET anything else: 200 while
    connected and making progress, else 503."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = b""
        with contextlib.suppress(Exception):
            request = await asyncio.wait_for(reader.readline(), timeout=2)
        content_type = b"application/json"
        if request.split(b" ")[1:2] == [b"/metrics"]:
            status, body = b"200 OK", generate_latest()
            content_type = CONTENT_TYPE_LATEST.encode()
        else:
            healthy = runner.connected and time.monotonic() - runner.last_progress < 60
            body = json.dumps({"connected": runner.connected}).encode()
            status = b"200 OK" if healthy else b"503 Service Unavailable"
        writer.write(
            b"HTTP/1.1 "
            + status
            + b"\r\nContent-Type: "
            + content_type
            + b"\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + body
        )
        with contextlib.suppress(Exception):
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "0.0.0.0", port)  # noqa: S104 - probe port
