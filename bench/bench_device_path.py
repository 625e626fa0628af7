"""The whole device path: MQTT publish -> Mosquitto -> bridge -> Kafka ->
energy service -> InfluxDB -> readable (run: `uv run python bench/bench_device_path.py`,
or `make bench`; `--seconds 600` for the ten-minute memory run).

1. Ceiling: Mosquitto's own throughput, QoS 1 publishes from native clients
   (`mosquitto_pub`) to a plain native subscriber.
2. The fleet (IoT service + bridge + energy service) on its own ports, database,
   Kafka namespace and InfluxDB database. The probe device's plant arrives as a
   `plant.v1` event and the probe is provisioned through the IoT API; the load's
   plants and devices (99,000 by default, two meters per plant; InfluxDB 1.8
   refuses a tag's 100,001st value unless its max-values-per-tag is raised) are
   written to the IoT service's tables directly, since provisioning is not what
   is measured and through the API it takes ~0.1 s a device.
3. Warm-up, not timed: every device's first reading, the baseline of its
   cumulative registers (and its OFFLINE -> ONLINE event), until all of them
   and the status events are stored.
4. Capacity: a backlog of readings published as fast as the publisher goes;
   readings stored per second from the first publish to the last readable.
5. Paced: readings at a fixed rate for a fixed time, device after device (at
   the defaults every device publishes every 20 s); a probe reading every
   200 ms is timed from publish to readable in InfluxDB. Prints readings/s
   stored, p50/p99 publish-to-readable, the bridge's memory over the run, and
   the CPU each process used. "Stored" is timed by the energy service's count
   of points InfluxDB accepted (``/metrics``; a point is readable once
   accepted), then checked once by counting in InfluxDB.

Readings are the specification's message with cumulative registers, as the
simulator and real meters send them. The load is published by one lean MQTT
connection in this process (QoS 1 PUBLISH packets, as the bridge account,
which may publish under any device); the paced run's packets are all encoded
before it starts, so during it the load generator only writes bytes and counts
acknowledgements: devices are not on this machine in production.

Loopback only; bounded in count and time. Prints figures, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2
from cerc_shared.events import EventEnvelope
from cerc_shared.events.cer import PlantRegistered
from cerc_shared.events.iot import MeasurementsAccepted
from cerc_shared.settings import namespaced
from iot_service.mqtt.topics import device_username
from iot_service.mqtt.wire import PUBACK, connect_packet, publish_packet, split_packets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))
import fleet  # noqa: E402
from bench_ingest import (  # noqa: E402
    INFLUX,
    INFLUX_AUTH,
    count_readings,
    cpu_seconds,
    energy_written,
    points_written,
    recreate_influx,
    rss_mib,
)
from machine import describe  # noqa: E402

OFFSET = 5000
DATABASE = "cercollettiva_bench_devices"
ADMIN = ("bench-admin", "bench-admin@example.it", "Bench-Admin-Pass-1")  # throwaway account
MQTT_SERVICE = ("cerc_bridge", "cerc_bridge_dev")  # development key (infra/mosquitto.sh)
PLANT_BASE = 900_000
PROBE_PLANT = PLANT_BASE
# Every device publishes every STEP of simulated time; phases follow each other.
STEP = timedelta(seconds=20)


def run_fleet(*args: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/fleet.py"), *args, "--port-offset", str(OFFSET)],
        check=True,
    )


def fresh_fleet(offset: int, database: str) -> None:
    """The device path's services (user, iot, energy; one worker each) on the ports of
    ``offset``, over a PostgreSQL and an InfluxDB database made anew."""
    recreate_influx(database)
    subprocess.run(
        ["bash", str(ROOT / "infra/postgres/bootstrap-db.sh"), database, "--recreate"],
        check=True, capture_output=True,
    )  # fmt: skip
    fleet_up = [sys.executable, str(ROOT / "scripts/fleet.py"), "--port-offset", str(offset)]
    subprocess.run([*fleet_up[:2], "down", *fleet_up[2:]], check=True)
    subprocess.run(
        [*fleet_up[:2], "up", "--only", "user,iot,energy", *fleet_up[2:], "--database", database],
        check=True, env={**os.environ, "CERC_FLEET_WORKERS": "1"},
    )  # fmt: skip


# ------------------------------------------------------------- 1. the ceiling


def publish_lines(port: int, streams: dict[str, list[bytes]]) -> list[subprocess.Popen[bytes]]:
    """One native `mosquitto_pub -l` per topic, QoS 1, as fast as it goes."""
    user, password = MQTT_SERVICE
    procs = []
    for topic, lines in streams.items():
        proc = subprocess.Popen(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-u", user, "-P", password,
             "-q", "1", "-t", topic, "-l"],
            stdin=subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdin is not None
        proc.stdin.write(b"\n".join(lines) + b"\n")
        procs.append(proc)
    return procs


def mosquitto_ceiling(port: int, messages: int, publishers: int = 20) -> float:
    """The broker alone: native publishers to one native subscriber, QoS 1."""
    user, password = MQTT_SERVICE
    run = uuid.uuid4().hex[:8]
    sub = subprocess.Popen(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-u", user, "-P", password,
         "-q", "1", "-t", f"energy/_bench/{run}/#", "-C", str(messages)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.5)
    per = messages // publishers
    streams = {f"energy/_bench/{run}/{i}": [b"x" * 300] * per for i in range(publishers)}
    started = time.perf_counter()
    procs = publish_lines(port, streams)
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
    sub.wait(timeout=300)
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.wait(timeout=60)
    return per * publishers / elapsed


# ------------------------------------------------------------------ the fleet


async def feed_probe_plant(namespace: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{fleet.read_ports(0)['KAFKA_PORT']}")
    await producer.start()
    try:
        event = PlantRegistered(
            plant_id=PROBE_PLANT, pod=f"IT999E{PROBE_PLANT:08d}", name="bench probe",
            community_id=PLANT_BASE, owner_user_id=1, plant_type="PROSUMER",
            nominal_power_kw=Decimal("6.00"), technology="PV",
            entry_into_service=date(2024, 1, 1), region="Lombardia",
            primary_substation="AC999E00001", market_zone="NORD",
            capital_grant_eur_per_kw=Decimal(0), connection_voltage="BT",
            valid_from=date(2024, 1, 1), valid_to=None,
        )  # fmt: skip
        envelope = EventEnvelope.wrap(event, producer="bench", correlation_id=None)
        await producer.send_and_wait(
            namespaced(namespace, event.topic),
            envelope.model_dump_json().encode(),
            key=event.key().encode(),
        )
    finally:
        await producer.stop()


def admin_token(gateway: str, ports: dict[str, int]) -> str:
    user = next(s for s in fleet.FLEET if s.name == "user")
    subprocess.run(
        [sys.executable, "-m", "user_service.cli", "create-admin",
         "--username", ADMIN[0], "--email", ADMIN[1]],
        input=ADMIN[2] + "\n", text=True, check=True, cwd=ROOT,
        env=fleet.service_env(user, ports, DATABASE), capture_output=True,
    )  # fmt: skip
    response = httpx.post(
        f"{gateway}/api/auth/login/", json={"username": ADMIN[0], "password": ADMIN[2]}
    )
    response.raise_for_status()
    token: str = response.json()["data"]["access_token"]
    return token


def provision_probe(gateway: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    body = {"device_id": PROBE_DEVICE, "plant_id": PROBE_PLANT, "model": "bench-meter",
            "interval_s": INTERVAL_S}  # fmt: skip
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=gateway, headers=headers, timeout=30) as client:
        while True:
            response = client.post("/api/iot/devices/", json=body)
            if response.status_code in (201, 409):
                return
            # The plant may not have reached the IoT read model yet.
            if time.monotonic() > deadline:
                raise SystemExit(f"cannot provision {PROBE_DEVICE}: {response.text}")
            time.sleep(0.5)


def iot_dsn(ports: dict[str, int]) -> str:
    return f"postgresql://iot_svc:iot_dev@127.0.0.1:{ports['PG_PORT']}/{DATABASE}"


# Device ids of this run alone. Topics are the broker's, shared by everyone on
# it: another bench or harness publishing for the same ids meanwhile reached
# this run's bridge and moved its devices' registers (readings were then
# stale or doubled, and the run's count said so). With ids of its own, such
# messages are refused as unknown devices.
RUN = uuid.uuid4().hex[:6]
PROBE_DEVICE = f"bench-probe-{RUN}"


def device_id(n: int) -> str:
    return f"bench-{RUN}-{n:06d}"


def plant_of(n: int, per_plant: int) -> int:
    return PLANT_BASE + 1 + n // per_plant


# The interval the devices declare (a quarter hour, as Italian meter data):
# the OFFLINE detector leaves them alone between the phases.
INTERVAL_S = 900
DEVICE_COLUMNS = ["id", "plant_id", "model", "interval_s", "mqtt_username", "status", "created_by"]


def device_rows(devices: int, per_plant: int) -> list[tuple[object, ...]]:
    """The bench's meters as rows of ``DEVICE_COLUMNS`` (OFFLINE until they publish)."""
    return [
        (d, plant_of(n, per_plant), "bench-meter", INTERVAL_S, device_username(d), "OFFLINE", 1)
        for n in range(devices)
        if (d := device_id(n))
    ]


async def register_devices(ports: dict[str, int], devices: int, per_plant: int) -> None:
    """Plants (as the plant.v1 read model keeps them) and devices, straight into the tables."""
    conn = await asyncpg.connect(iot_dsn(ports), server_settings={"search_path": "iot"})
    try:
        plants = sorted({plant_of(n, per_plant) for n in range(devices)})
        await conn.copy_records_to_table(
            "plants",
            records=[
                (p, f"IT999E{p:08d}", f"bench {p}", PLANT_BASE, 1, date(2024, 1, 1), None)
                for p in plants
            ],
            columns=["plant_id", "pod", "name", "community_id", "owner_user_id", "valid_from",
                     "valid_to"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "plant_periods",
            records=[(p, PLANT_BASE, date(2024, 1, 1), None, 1) for p in plants],
            columns=["plant_id", "community_id", "valid_from", "valid_to", "owner_user_id"],
        )
        await conn.copy_records_to_table(
            "devices",
            records=device_rows(devices, per_plant),
            columns=DEVICE_COLUMNS,
        )
        await conn.execute("ANALYZE plants; ANALYZE devices")
    finally:
        await conn.close()


async def outbox_pending(ports: dict[str, int]) -> int:
    conn = await asyncpg.connect(iot_dsn(ports), server_settings={"search_path": "iot"})
    try:
        return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
    finally:
        await conn.close()


def start_extra_bridges(count: int, ports: dict[str, int]) -> list[int]:
    """Replicas beyond the fleet's one, sharing its subscription group; their pid
    files sit with the fleet's, so `fleet.py down` stops them too."""
    iot = next(s for s in fleet.FLEET if s.name == "iot")
    where = fleet.run_dir(OFFSET)
    pids = []
    for i in range(1, count):
        env = fleet.service_env(iot, ports, DATABASE)
        env["CERC_IOT_BRIDGE_CLIENT_ID"] = f"cerc-bridge-{ports['IOT_PORT']}-{i}"
        with open(where / f"iot-bridge-{i}.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "iot_service.bridge"], cwd=ROOT, env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        (where / f"iot-bridge-{i}.pid").write_text(str(proc.pid))
        pids.append(proc.pid)
    return pids


# ------------------------------------------------------------- the publisher


class Acks(asyncio.Protocol):
    """A QoS 1 publisher's side of the connection: counts PUBACKs, keeps the CONNACK."""

    def __init__(self) -> None:
        self.acked = 0
        self.connack: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        packets, used = split_packets(self._buffer)
        del self._buffer[:used]
        for kind, _, body in packets:
            if kind == PUBACK:
                self.acked += 1
            elif not self.connack.done():
                self.connack.set_result(body)


# MQTT packet ids (1..65535) of the load and of the probes, kept apart because
# the load's are encoded before the run and the probes' during it.
LOAD_PACKET_IDS = 65_000
PROBE_PACKET_IDS = 65_535 - LOAD_PACKET_IDS


class Publisher:
    """One MQTT connection publishing pre-encoded QoS 1 messages."""

    def __init__(self, transport: asyncio.Transport, acks: Acks) -> None:
        self.transport = transport
        self.acks = acks
        self.sent = 0
        self._packet_id = 0

    @classmethod
    async def connect(cls, port: int) -> Publisher:
        user, password = MQTT_SERVICE
        loop = asyncio.get_running_loop()
        transport, acks = await loop.create_connection(Acks, "127.0.0.1", port)
        transport.write(
            connect_packet(f"bench-{uuid.uuid4().hex[:8]}", user, password, clean=True,
                           keepalive=60)
        )  # fmt: skip
        body = await asyncio.wait_for(acks.connack, 10)
        if body[1:2] != b"\x00":
            raise SystemExit(f"the bench publisher was refused: {body!r}")
        return cls(transport, acks)

    def encode(self, topic: str, payload: bytes) -> bytes:
        self._packet_id = self._packet_id % LOAD_PACKET_IDS + 1
        return publish_packet(topic, payload, self._packet_id)

    def encode_probe(self, topic: str, payload: bytes, step: int) -> bytes:
        """A probe's packet, with an id of its own range: the load's were encoded ahead."""
        return publish_packet(topic, payload, LOAD_PACKET_IDS + 1 + step % PROBE_PACKET_IDS)

    def write(self, packets: list[bytes]) -> None:
        self.transport.write(b"".join(packets))
        self.sent += len(packets)

    def write_encoded(self, load: Encoded, start: int, end: int) -> None:
        """Packets ``start`` to ``end`` of a load encoded ahead, in one write."""
        self.transport.write(load.blob[load.offsets[start] : load.offsets[end]])
        self.sent += end - start

    async def drain(self, timeout_s: float = 120) -> None:
        """Until the broker has acknowledged everything written."""
        deadline = time.monotonic() + timeout_s
        while self.acks.acked < self.sent and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    def close(self) -> None:
        self.transport.close()


class Fleet:
    """The simulated devices: device n's k-th reading is at base + k * STEP."""

    def __init__(self, devices: int, per_plant: int) -> None:
        self.devices = devices
        self.base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
        self.topics = [
            f"energy/plant/{plant_of(n, per_plant)}/device/{device_id(n)}/measurements"
            for n in range(devices)
        ]
        self._head_k, self._head_bytes = -1, b""

    def at(self, k: int) -> datetime:
        return self.base + k * STEP

    def _head(self, k: int) -> bytes:
        """The payload up to the registers: the same for every device's k-th reading."""
        if self._head_k != k:
            stamp = self.at(k).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
            self._head_k, self._head_bytes = k, b'{"timestamp":"' + stamp + b'","measurements":'
        return self._head_bytes

    def payload(self, k: int, n: int) -> bytes:
        # Registers (kWh) that grow with every reading: PV export and import.
        produced = 1000 + n % 97 + k * 0.025
        consumed = 500 + n % 89 + k * 0.0125
        return (
            self._head(k) + b'{"energy_produced":' + f"{produced:.4f}".encode()
            + b',"energy_consumed":' + f"{consumed:.4f}".encode()
            + b',"power_produced":2.5,"voltage":230.1}}'
        )  # fmt: skip

    def reading(self, publisher: Publisher, k: int, n: int) -> bytes:
        return publisher.encode(self.topics[n], self.payload(k, n))

    def encode_ahead(self, publisher: Publisher, first_k: int, count: int) -> Encoded:
        """Readings ``first_k``.. of every device in turn, ``count`` of them, as
        one buffer of PUBLISH packets: what devices spend making their messages
        is not spent on this machine during the timed run (it is not the
        platform's; in production devices are elsewhere)."""
        parts: list[bytes] = []
        offsets = [0]
        end = 0
        for i in range(count):
            k, n = divmod(i, self.devices)
            packet = self.reading(publisher, first_k + k, n)
            parts.append(packet)
            end += len(packet)
            offsets.append(end)
        return Encoded(memoryview(b"".join(parts)), offsets)


@dataclass(frozen=True)
class Encoded:
    """PUBLISH packets back to back, and where each starts (plus the end)."""

    blob: memoryview
    offsets: list[int]


async def _probe_rows(client: aiohttp.ClientSession, since: int) -> list[list[object]]:
    """The probe's readings stamped after ``since`` (ns); none while InfluxDB does not answer."""
    query = (
        "SELECT energy_produced FROM energy_data"  # noqa: S608 - constants
        f" WHERE device_id = '{PROBE_DEVICE}' AND time > {since}"
    )
    try:
        async with client.get(
            f"{INFLUX}/query", params={"db": DATABASE, "q": query, "epoch": "ns"}
        ) as response:
            response.raise_for_status()
            body = await response.json()
    except aiohttp.ClientError:
        return []  # InfluxDB restarting: ask again
    series = body["results"][0].get("series", [])
    return [row for s in series for row in s["values"]]


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


async def stored(client: httpx.AsyncClient, start: datetime, end: datetime) -> int:
    """Readings of bench devices (with energy), stamped in [start, end]."""
    return await count_readings(
        client,
        DATABASE,
        f"time >= '{_stamp(start)}' AND time <= '{_stamp(end)}' AND source = 'iot'",
    )


async def wait_written(
    client: httpx.AsyncClient, energy: str, want: dict[str, float], limit_s: float
) -> bool:
    """Until the energy service has written ``want`` points of each measurement
    (polled every 100 ms, a small error on runs of many seconds: a count in
    InfluxDB over every device takes seconds, and each poll of /metrics costs
    the energy service CPU the run is measuring)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        written = await points_written(client, energy)
        if all(written.get(m, 0) >= n for m, n in want.items()):
            return True
        await asyncio.sleep(0.1)
    return False


# ------------------------------------------------------------------ the phases


async def warm_up(port: int, fleet_: Fleet, ports: dict[str, int], energy: str) -> float:
    publisher = await Publisher.connect(port)
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as client:
        before = await points_written(client, energy)
        try:
            for start in range(0, fleet_.devices, 1000):
                end = min(start + 1000, fleet_.devices)
                publisher.write([fleet_.reading(publisher, 0, n) for n in range(start, end)])
                await publisher.drain()
        finally:
            publisher.close()
        # The baselines, and the devices' OFFLINE -> ONLINE events through the outbox.
        want = {m: before.get(m, 0) + fleet_.devices for m in ("energy_data", "device_status")}
        await wait_written(client, energy, want, 900)
    while await outbox_pending(ports):  # noqa: ASYNC110 - another process's table
        await asyncio.sleep(0.5)
    return time.perf_counter() - started


async def capacity(port: int, fleet_: Fleet, readings: int, energy: str) -> tuple[int, float]:
    """A backlog published as fast as the publisher goes; readings stored per second."""
    publisher = await Publisher.connect(port)
    # Readings 1.. of every device in turn, after the warm-up's baseline.
    first_k = 1
    last_k = first_k + (readings - 1) // fleet_.devices
    async with httpx.AsyncClient(timeout=60) as client:
        before = await energy_written(client, energy)
        started = time.perf_counter()
        try:
            for start in range(0, readings, 1000):
                end = min(start + 1000, readings)
                publisher.write(
                    [fleet_.reading(publisher, first_k + i // fleet_.devices, i % fleet_.devices)
                     for i in range(start, end)]
                )  # fmt: skip
                await publisher.drain()
        finally:
            publisher.close()
        await wait_written(client, energy, {"energy_data": before + readings}, 600)
        elapsed = time.perf_counter() - started
        count = await stored(client, fleet_.at(first_k), fleet_.at(last_k))
    return count, count / elapsed


async def paced(
    port: int,
    fleet_: Fleet,
    first_k: int,
    rate: int,
    seconds: float,
    watched: dict[str, int],
    energy: str,
) -> dict[str, object]:
    publisher = await Publisher.connect(port)
    probe_topic = f"energy/plant/{PROBE_PLANT}/device/{PROBE_DEVICE}/measurements"
    probes: dict[int, float] = {}  # probe timestamp (ns) -> when published
    probes_wall: dict[int, float] = {}  # the same, wall clock (Kafka's record times are)
    seen: dict[int, float] = {}
    rss: dict[str, list[float]] = {name: [] for name in watched if name.startswith("iot-bridge")}
    stop = asyncio.Event()
    finished = asyncio.Event()

    async def sample_memory() -> None:
        while not stop.is_set():
            for name in rss:
                rss[name].append(rss_mib(watched[name]))
            await asyncio.sleep(2)

    async def watch_probes() -> None:
        # aiohttp, not httpx: 0.5 ms of CPU a query instead of 2.7, at 20 a
        # second 5% of a core the run would take from the fleet it measures.
        headers = {"Authorization": aiohttp.encode_basic_auth(*INFLUX_AUTH)}
        since = 0
        async with aiohttp.ClientSession(headers=headers) as client:
            while True:
                rows = await _probe_rows(client, since)
                now = time.perf_counter()
                for row in rows:
                    stamp = int(row[0])  # type: ignore[call-overload]
                    seen.setdefault(stamp, now)
                    since = max(since, stamp)
                if finished.is_set() and (len(seen) >= len(probes) - 1 or now - stop_time > 30):
                    return
                await asyncio.sleep(0.05)

    stop_time = 0.0
    probe_base = fleet_.at(first_k)
    probe_base_ns = int(probe_base.timestamp()) * 10**9
    load = fleet_.encode_ahead(publisher, first_k, int(rate * seconds))
    cpu_before = {name: cpu_seconds(pid) for name, pid in watched.items()}
    async with httpx.AsyncClient(timeout=60) as http:
        before = await energy_written(http, energy)
        tasks = [asyncio.create_task(sample_memory()), asyncio.create_task(watch_probes())]
        began, began_wall = time.perf_counter(), time.time()
        sent = probe_step = 0
        # The probe's register, so every probe after the first carries energy.
        probe_kwh = 10.0
        while (elapsed := time.perf_counter() - began) < seconds:
            due = min(int(elapsed * rate), sent + rate // 10, len(load.offsets) - 1)
            if due > sent:
                publisher.write_encoded(load, sent, due)
                sent = due
            if elapsed >= probe_step * 0.2:
                at = probe_base + timedelta(milliseconds=200 * probe_step)
                probe_kwh += 0.02
                payload = (
                    b'{"timestamp":"' + at.isoformat().encode() + b'","measurements":'
                    b'{"energy_produced":' + f"{probe_kwh:.3f}".encode() + b"}}"
                )  # fmt: skip
                publisher.write([publisher.encode_probe(probe_topic, payload, probe_step)])
                probes[probe_base_ns + 200_000_000 * probe_step] = time.perf_counter()
                probes_wall[probe_base_ns + 200_000_000 * probe_step] = time.time()
                probe_step += 1
            await asyncio.sleep(0.005)
        publish_seconds = time.perf_counter() - began
        stop.set()
        stop_time = time.perf_counter()
        readings = sent
        last_k = first_k + (readings - 1) // fleet_.devices
        # The load's readings and the probes (less the first: a baseline stores nothing).
        want = before + readings + len(probes) - 1
        await wait_written(http, energy, {"energy_data": want}, 300)
        all_stored = time.perf_counter() - began
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in watched.items()}
        finished.set()
        await asyncio.gather(*tasks)
        count = await stored(http, fleet_.at(first_k), fleet_.at(last_k))
    publisher.close()
    # The first probe is the probe's baseline: no energy, so never readable as such.
    latencies = sorted((seen[t] - probes[t]) * 1000 for t in probes if t in seen)
    # The slowest probe of each 10 s of the run: whether the tail is spread or periodic.
    windows: dict[int, float] = {}
    for t, published in probes.items():
        if t in seen:
            w = int((published - began) // 10)
            windows[w] = max(windows.get(w, 0.0), (seen[t] - published) * 1000)
    return {
        "sent": readings,
        "stored": count,
        "publish_rate": readings / publish_seconds,
        "stored_rate": count / all_stored,
        "probes": len(probes) - 1,
        "probes_seen": len(latencies),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": _p99(latencies) if latencies else float("nan"),
        "max": latencies[-1] if latencies else float("nan"),
        "rss": rss,
        "windows": [windows[w] for w in sorted(windows)],
        "probes_wall": probes_wall,
        "seen_wall": {t: at - began + began_wall for t, at in seen.items()},
        "cpu": cpu,
        "seconds": all_stored,
        "last_k": last_k,
    }


async def probe_record_times(namespace: str) -> dict[int, float]:
    """When each probe reading was put in a Kafka record by the bridge (the
    record's CreateTime, wall clock, s), by the reading's timestamp (ns): read
    back after the run from the partition of the probe's plant, so the run's
    latency splits into publish -> in Kafka and in Kafka -> readable."""
    topic = namespaced(namespace, MeasurementsAccepted.topic)
    key = str(PROBE_PLANT).encode()
    bootstrap = f"127.0.0.1:{fleet.read_ports(0)['KAFKA_PORT']}"
    # The producer's lookup fetches the topic's metadata (the consumer's does not).
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic))
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: dict[int, float] = {}
    try:
        tp = TopicPartition(topic, partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)])
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=10_000)
            for record in batch.get(tp, []):
                if record.key != key:
                    continue
                for reading in orjson.loads(record.value or b"{}")["data"]["readings"]:
                    if reading["device_id"] == PROBE_DEVICE:
                        at = datetime.fromisoformat(reading["timestamp"])
                        ns = (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
                        out.setdefault(ns * 1000, record.timestamp / 1000)
    finally:
        await consumer.stop()
    return out


def _split(result: dict[str, Any], in_kafka: dict[int, float]) -> str:
    """p50/p99 of publish -> in Kafka and of in Kafka -> readable, over the probes."""
    published: dict[int, float] = result["probes_wall"]
    seen: dict[int, float] = result["seen_wall"]
    to_kafka = sorted((in_kafka[t] - published[t]) * 1000 for t in published if t in in_kafka)
    to_read = sorted((seen[t] - in_kafka[t]) * 1000 for t in seen if t in in_kafka)
    if not to_kafka or not to_read:
        return "no probe found in Kafka"
    return (
        f"publish -> in a Kafka record (bridge): p50 {statistics.median(to_kafka):.0f} ms, "
        f"p99 {_p99(to_kafka):.0f} ms; in Kafka -> readable (energy, InfluxDB): "
        f"p50 {statistics.median(to_read):.0f} ms, p99 {_p99(to_read):.0f} ms"
    )


def _p99(ordered: list[float]) -> float:
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


def server_pids() -> dict[str, int]:
    run = ROOT / ".run"
    return {
        name: int((run / name / f"{file}.pid").read_text().split()[0])
        for name, file in (("mosquitto", "mosquitto"), ("kafka", "kafka"), ("influxdb", "influxd"))
        if (run / name / f"{file}.pid").exists()
    }


def postgres_cpu_seconds() -> float:
    """Every PostgreSQL process's CPU so far: the live ones', and through the
    postmaster's children's times, the ones that ended (of every user of it)."""
    postmaster = int((ROOT / ".run/postgres/data/postmaster.pid").read_text().split()[0])
    out = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True)
    total = 0.0
    for pid in [postmaster, *map(int, out.stdout.split())]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        times = fields[11:13] + (fields[13:15] if pid == postmaster else [])
        total += sum(int(t) for t in times) / os.sysconf("SC_CLK_TCK")
    return total


def mosquitto_store_mib() -> float:
    """Size of Mosquitto's persistence file. Mosquitto rewrites all of it every
    autosave_interval (30 s here), and routes no message meanwhile: a store of
    600 MiB stopped the broker for ~7 s a save on this machine, which is then
    the p99 of publish -> readable. It grows with what persistent sessions hold,
    above all the bridge sessions of fleets that are not running (a stopped
    end-to-end fleet's bridge queues every device message this bench sends)."""
    store = ROOT / ".run/mosquitto/data/mosquitto.db"
    return store.stat().st_size / 2**20 if store.exists() else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # InfluxDB 1.8 refuses a tag's 100,001st value by default (max-values-per-tag):
    # one thousand short of 100,000 devices leaves room for the probe.
    parser.add_argument("--devices", type=int, default=99_000)
    parser.add_argument("--devices-per-plant", type=int, default=2)
    parser.add_argument("--rate", type=int, default=5000, help="paced readings per second")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--capacity-readings", type=int, default=60_000)
    parser.add_argument("--ceiling-messages", type=int, default=50_000)
    parser.add_argument("--bridges", type=int, default=1, help="bridge replicas")
    args = parser.parse_args()
    ports = fleet.read_ports(OFFSET)
    mqtt_port = ports["MQTT_PORT"]

    store_before = mosquitto_store_mib()
    ceiling = mosquitto_ceiling(mqtt_port, args.ceiling_messages)
    fresh_fleet(OFFSET, DATABASE)
    try:
        bridge_pids = [int((fleet.run_dir(OFFSET) / "iot-bridge.pid").read_text())]
        bridge_pids += start_extra_bridges(args.bridges, ports)
        gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
        asyncio.run(feed_probe_plant(fleet.kafka_namespace(DATABASE)))
        provision_probe(gateway, admin_token(gateway, ports))
        asyncio.run(register_devices(ports, args.devices, args.devices_per_plant))
        devices = Fleet(args.devices, args.devices_per_plant)
        energy = f"http://127.0.0.1:{ports['ENERGY_PORT']}"
        warm_seconds = asyncio.run(warm_up(mqtt_port, devices, ports, energy))
        stored_backlog, capacity_rate = asyncio.run(
            capacity(mqtt_port, devices, args.capacity_readings, energy)
        )
        where = fleet.run_dir(OFFSET)
        watched = {
            ("iot-bridge" if i == 0 else f"iot-bridge-{i}"): pid
            for i, pid in enumerate(bridge_pids)
        }
        watched |= {n: int((where / f"{n}.pid").read_text()) for n in ("energy", "iot")}
        watched |= server_pids()
        watched["bench"] = os.getpid()
        first_k = 2 + (args.capacity_readings - 1) // args.devices
        postgres_before = postgres_cpu_seconds()
        result = asyncio.run(
            paced(mqtt_port, devices, first_k, args.rate, args.seconds, watched, energy)
        )
        postgres_cpu = postgres_cpu_seconds() - postgres_before
        in_kafka = asyncio.run(probe_record_times(fleet.kafka_namespace(DATABASE)))
        store_after = mosquitto_store_mib()
    finally:
        run_fleet("down", "--end-bridge-session")
    rss: dict[str, list[float]] = result["rss"]  # type: ignore[assignment]
    cpu: dict[str, float] = result["cpu"]  # type: ignore[assignment]
    cpu["postgres"] = postgres_cpu
    print(
        f"\n== device path: MQTT > bridge > Kafka > energy > InfluxDB, {args.devices:,} devices "
        f"({args.devices_per_plant} a plant), {args.bridges} bridge replica(s) =="
    )
    print(f"machine: {describe()}")
    print(f"ceiling, Mosquitto alone (native QoS 1 publishers -> subscriber): {ceiling:,.0f} msg/s")
    print(
        f"Mosquitto persistence store: {store_before:,.0f} MiB before the run, "
        f"{store_after:,.0f} MiB after (rewritten every 30 s, the broker stopped meanwhile)"
    )
    print(f"warm-up: every device's baseline reading stored in {warm_seconds:.0f} s")
    print(
        f"capacity, backlog of {args.capacity_readings:,} readings: {stored_backlog:,} stored, "
        f"{capacity_rate:,.0f} readings/s publish -> stored ({capacity_rate / ceiling:.0%} of the "
        f"ceiling)"
    )
    print(
        f"paced run, offered {args.rate:,}/s for {args.seconds:.0f} s: "
        f"published {result['sent']:,} ({result['publish_rate']:,.0f}/s), "
        f"stored {result['stored']:,} ({result['stored_rate']:,.0f}/s from first publish to "
        f"last stored)"
    )
    print(
        f"publish -> readable ({result['probes_seen']}/{result['probes']} probes): "
        f"p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms, max {result['max']:.0f} ms"
    )
    print(_split(result, in_kafka))
    windows: list[float] = result["windows"]  # type: ignore[assignment]
    print("slowest probe per 10 s: " + ", ".join(f"{ms:.0f}" for ms in windows) + " ms")
    for name, samples in rss.items():
        quarter = max(1, len(samples) // 4)
        print(
            f"{name} RSS: first quarter {statistics.mean(samples[:quarter]):.1f} MiB, "
            f"last quarter {statistics.mean(samples[-quarter:]):.1f} MiB, max {max(samples):.1f} "
            f"MiB ({len(samples)} samples over {result['seconds']:.0f} s)"
        )
    seconds: float = result["seconds"]  # type: ignore[assignment]
    busiest = sorted(cpu.items(), key=lambda item: -item[1])
    print(
        "CPU during the paced run (% of one core): "
        + ", ".join(f"{name} {100 * used / seconds:.0f}%" for name, used in busiest)
    )


if __name__ == "__main__":
    main()
