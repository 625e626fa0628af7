"""Benchmark of reading ingestion: Kafka -> energy service -> InfluxDB
(run: `uv run python bench/bench_ingest.py`, or `make bench`).

1. Ceiling: InfluxDB's own write throughput, a plain batched line-protocol
   write over HTTP (the same batch size the service uses), no Kafka, no parsing.
2. Capacity: a backlog of readings produced to Kafka as fast as the producer
   can, while the real energy service (uvicorn, its own process) ingests it:
   readings stored per second, from the first produce to the last readable.
3. Latency at a sustained rate: readings produced at a fixed rate for a fixed
   time; probe readings every 50 ms are timed from produce to readable in
   InfluxDB (a Flux query polled every 25 ms): p50, p99, max.

Each run prints the CPU the energy service and InfluxDB spent, in microseconds
per reading. The fleet has the device-path bench's shape by default (99,000
devices, two a plant, the bridge's four values a reading, events of one or two
readings), so InfluxDB holds as many series as it does there. In the capacity
run "stored" is timed by the service's count of points InfluxDB accepted
(``/metrics``), so no counting query adds to InfluxDB's CPU, and checked by
one count at the end; the latency run's InfluxDB figure includes its probe
queries. InfluxDB writes the cache to disk and compacts after the writes it
is given, so the last figure, over both runs and until InfluxDB is idle
again, is the one to compare InfluxDB configurations by.

The service reads a topic of its own (so no running fleet consumes the bench's
events) and writes to its own InfluxDB database. Loopback only; bounded in
count and time. Prints figures, never asserts on them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from cerc_shared.events import EventEnvelope
from cerc_shared.events.iot import MeasurementsAccepted, Reading
from cerc_shared.testing import ports, prepare_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from machine import describe  # noqa: E402

PORTS = ports()
INFLUX = f"http://127.0.0.1:{PORTS['INFLUX_PORT']}"
INFLUX_AUTH = ("cerc", "cerc_influx_dev")  # development key (infra/influxdb.sh)
BOOTSTRAP = f"127.0.0.1:{PORTS['KAFKA_PORT']}"
BATCH = 10_000
BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
# The fleet's shape; set from the command line (--devices, --devices-per-plant).
DEVICES = 99_000
DEVICES_PER_PLANT = 2
PROBE_PLANT = 999_999
# The latency run's readings come after the capacity run's (reading i is at
# BASE_TIME + i // DEVICES seconds).
LATENCY_FIRST = 10_000_000


def latency_from() -> str:
    return (BASE_TIME + timedelta(seconds=LATENCY_FIRST // DEVICES - 1)).isoformat()[:19] + "Z"


def recreate_influx(database: str) -> None:
    for q in (f'DROP DATABASE "{database}"', f'CREATE DATABASE "{database}"'):
        r = httpx.post(f"{INFLUX}/query", data={"q": q}, auth=INFLUX_AUTH, timeout=30)
        r.raise_for_status()


def drop_influx(database: str) -> None:
    httpx.post(f"{INFLUX}/query", data={"q": f'DROP DATABASE "{database}"'}, auth=INFLUX_AUTH)


async def count_readings(client: httpx.AsyncClient, bucket: str, where: str = "") -> int:
    """Readings (points with energy_consumed) in ``bucket``; InfluxQL, which
    costs InfluxDB a fraction of what the same count in Flux does."""
    r = await client.get(
        f"{INFLUX}/query",
        params={
            "db": bucket.split("/", 1)[0],
            "q": "SELECT count(energy_consumed) FROM energy_data"  # noqa: S608
            + (f" WHERE {where}" if where else ""),
        },
        auth=INFLUX_AUTH,
        timeout=60,
    )
    r.raise_for_status()
    series = r.json()["results"][0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


# ----------------------------------------------------------------- 1. ceiling


async def influx_ceiling(points: int) -> float:
    database = "cerc_bench_raw"
    recreate_influx(database)
    base_ns = int(BASE_TIME.timestamp()) * 10**9
    lines = [
        f"energy_data,device_id=dev-{i % DEVICES},plant_id={i % DEVICES // DEVICES_PER_PLANT},"
        f"source=iot energy_consumed=0.25,power_consumed=1.0 {base_ns + (i // DEVICES) * 10**9}"
        for i in range(points)
    ]
    bodies = ["\n".join(lines[i : i + BATCH]).encode() for i in range(0, points, BATCH)]
    async with httpx.AsyncClient(timeout=60) as client:
        started = time.perf_counter()
        for body in bodies:
            r = await client.post(
                f"{INFLUX}/api/v2/write?org=-&bucket={database}/autogen&precision=ns",
                content=body,
                headers={"Authorization": f"Token {INFLUX_AUTH[0]}:{INFLUX_AUTH[1]}"},
            )
            r.raise_for_status()
        elapsed = time.perf_counter() - started
        stored = await count_readings(client, f"{database}/autogen")
    assert stored == points, f"ceiling run stored {stored} of {points}"
    return points / elapsed


# ------------------------------------------------------------ the service


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def create_topic(topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()


def start_service(topic: str, bucket: str, run: str) -> tuple[subprocess.Popen[bytes], str]:
    dsn = prepare_database("energy", "cerc_bench_energy", ROOT / "services" / "energy")
    port = free_port()
    env = {
        **os.environ,
        "CERC_ENERGY_ENVIRONMENT": "development",
        "CERC_ENERGY_LOG_LEVEL": "WARNING",
        "CERC_ENERGY_DATABASE_URL": dsn,
        "CERC_ENERGY_KAFKA_BOOTSTRAP": BOOTSTRAP,
        "CERC_ENERGY_INFLUX_URL": INFLUX,
        "CERC_ENERGY_INFLUX_BUCKET": bucket,
        "CERC_ENERGY_INGEST_TOPICS": topic,
        "CERC_ENERGY_CONSUMER_GROUP_PREFIX": f"energy-bench-{run}",
        "CERC_ENERGY_CONSUME_READ_MODELS": "false",
    }
    log = open(ROOT / ".run" / "bench-energy.log", "wb")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "energy_service.main:app",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("the energy service did not become ready; see .run/bench-energy.log")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """CPU seconds of a process; NaN once it is gone (a server restarted
    meanwhile: someone else's test on this machine), so the figure shows it."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def influxd_pid() -> int:
    return int((ROOT / ".run" / "influxdb" / "influxd.pid").read_text().split()[0])


class CpuMeter:
    """CPU of the energy service and of InfluxDB from now on, per reading."""

    def __init__(self, service_pid: int) -> None:
        self.pids = {"energy": service_pid, "influxdb": influxd_pid()}
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def per_reading(self, readings: float) -> str:
        parts = []
        for name, pid in self.pids.items():
            used = cpu_seconds(pid) - self.before[name]
            parts.append(f"{name} {used / max(readings, 1) * 1e6:.1f} us")
        return ", ".join(parts)


async def points_written(client: httpx.AsyncClient, service: str) -> dict[str, float]:
    """The energy service's count of points InfluxDB accepted, by measurement (its /metrics)."""
    out = {}
    for line in (await client.get(f"{service}/metrics")).text.splitlines():
        if line.startswith("energy_points_written_total{"):
            measurement = line.split('measurement="', 1)[1].split('"', 1)[0]
            out[measurement] = float(line.rsplit(" ", 1)[1])
    return out


async def energy_written(client: httpx.AsyncClient, service: str) -> float:
    return (await points_written(client, service)).get("energy_data", 0.0)


# ------------------------------------------------------------- the events


def template(readings_per_event: int) -> tuple[str, str]:
    """A real envelope's JSON cut around the parts that change: fast to fill in."""
    # The values the bridge makes of the device-path bench's meters.
    readings = [
        Reading(
            device_id="DEVICE",
            timestamp=BASE_TIME,
            interval_s=20,
            energy_produced_kwh=0.0125,
            energy_consumed_kwh=0.0625,
            power_produced_kw=2.5,
            voltage=230.1,
        )
        for _ in range(readings_per_event)
    ]
    event = MeasurementsAccepted(plant_id=1, source="iot", readings=readings)
    body = EventEnvelope.wrap(event, producer="bench", correlation_id=None).model_dump_json()
    reading_json = readings[0].model_dump_json()
    return body, reading_json


class Events:
    def __init__(self, readings_per_event: int) -> None:
        self.per_event = readings_per_event
        self.body, self.reading = template(readings_per_event)
        self.envelope_id = str(EventEnvelope.model_validate_json(self.body).id)
        self.stamp = BASE_TIME.isoformat().replace("+00:00", "Z")
        self.next = 0

    def make(self, plant: int, devices_and_times: list[tuple[str, datetime]]) -> bytes:
        parts = [
            self.reading.replace('"DEVICE"', f'"{d}"').replace(
                self.stamp, t.isoformat().replace("+00:00", "Z")
            )
            for d, t in devices_and_times
        ]
        body = self.body.replace(self.envelope_id, str(uuid.uuid4()))
        head, _, rest = body.partition('"readings":[')
        _, _, tail = rest.rpartition("]")
        body = head + '"readings":[' + ",".join(parts) + "]" + tail
        return (
            body.replace('"plant_id":1,', f'"plant_id":{plant},')
            .replace('"key":"1"', f'"key":"{plant}"')
            .encode()
        )

    def batch(self) -> tuple[int, bytes]:
        """The next event: readings of one plant's devices, unique (device, time)."""
        pairs = []
        for _ in range(self.per_event):
            i = self.next
            self.next += 1
            device = i % DEVICES
            pairs.append((device, BASE_TIME + timedelta(seconds=i // DEVICES)))
        plant = pairs[0][0] // DEVICES_PER_PLANT
        # A plant's event carries only its devices' readings, as the bridge's do.
        pairs = [(d, t) for d, t in pairs if d // DEVICES_PER_PLANT == plant]
        self.next -= self.per_event - len(pairs)
        return plant, self.make(plant, [(f"dev-{d}", t) for d, t in pairs])


async def new_producer() -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=512 * 1024,
    )
    await producer.start()
    return producer


# ------------------------------------------------------------ 2. capacity


async def capacity(
    topic: str, bucket: str, readings: int, per_event: int, pid: int, service: str
) -> int:
    events = Events(per_event)
    backlog = []
    while events.next < readings:
        backlog.append(events.batch())
    producer = await new_producer()
    async with httpx.AsyncClient() as client:
        written_before = await energy_written(client, service)
        cpu_before = cpu_seconds(pid)
        meter = CpuMeter(pid)
        started = time.perf_counter()
        futures = [await producer.send(topic, value=v, key=str(p).encode()) for p, v in backlog]
        await asyncio.gather(*futures)
        produced_in = time.perf_counter() - started
        peak_rss = rss_mib(pid)
        written = 0.0
        deadline = time.monotonic() + 600
        while written < events.next and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            peak_rss = max(peak_rss, rss_mib(pid))
            written = await energy_written(client, service) - written_before
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(pid) - cpu_before
        per_reading = meter.per_reading(written)
        stored = await count_readings(client, bucket, f"plant_id != '{PROBE_PLANT}'")
    await producer.stop()
    print(
        f"  capacity, {per_event} reading(s)/event: {events.next:,} readings in "
        f"{len(backlog):,} events produced in {produced_in:.1f}s; stored {stored:,} in "
        f"{elapsed:.1f}s = {written / elapsed:,.0f} readings/s end to end; service CPU "
        f"{cpu:.1f}s ({cpu / elapsed * 100:.0f}% of one core), RSS peak {peak_rss:.0f} MiB; "
        f"CPU per reading stored: {per_reading}"
    )
    if stored != events.next:
        print(f"  !! stored {stored} of {events.next}")
    return events.next


# ------------------------------------------------------------- 3. latency


async def latency(
    topic: str, bucket: str, rate: int, seconds: float, per_event: int, pid: int
) -> int:
    events = Events(per_event)
    events.next = LATENCY_FIRST  # after the capacity run's readings
    first = events.next
    probes = Events(1)
    sent_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    producer = await new_producer()
    stop = asyncio.Event()
    rss = [rss_mib(pid)]

    async def poll() -> None:
        # InfluxQL over the probes not seen yet (probe n is stamped BASE_TIME
        # + n s): a Flux query every 25 ms cost InfluxDB more CPU than the
        # readings did, which the run's CPU per reading would have counted.
        database = bucket.split("/", 1)[0]
        async with httpx.AsyncClient() as client:
            while not stop.is_set() or len(seen_at) < len(sent_at):
                unseen = [int(d.split("-")[1]) for d in sent_at.keys() - seen_at.keys()]
                since = BASE_TIME + timedelta(seconds=min(unseen, default=len(sent_at)))
                r = await client.get(
                    f"{INFLUX}/query",
                    params={
                        "db": database,
                        "q": "SELECT energy_consumed, device_id FROM energy_data"  # noqa: S608
                        f" WHERE plant_id = '{PROBE_PLANT}'"
                        f" AND time >= '{since.isoformat()[:19]}Z'",
                    },
                    auth=INFLUX_AUTH,
                    timeout=60,
                )
                r.raise_for_status()
                now = time.perf_counter()
                for series in r.json()["results"][0].get("series", []):
                    for row in series["values"]:
                        device = row[2]
                        if device in sent_at and device not in seen_at:
                            seen_at[device] = now
                rss.append(rss_mib(pid))
                if stop.is_set() and time.perf_counter() - stopped_at[0] > 30:
                    return
                await asyncio.sleep(0.025)

    stopped_at = [0.0]
    poller = asyncio.create_task(poll())
    cpu_before = cpu_seconds(pid)
    meter = CpuMeter(pid)
    started = time.perf_counter()
    tick = 0.01
    sent_readings = 0
    next_probe = started
    probe_n = 0
    while (now := time.perf_counter()) - started < seconds:
        due = int((now - started) * rate) - sent_readings
        futures = []
        while due > 0:
            plant, value = events.batch()
            futures.append(await producer.send(topic, value=value, key=str(plant).encode()))
            n = events.next - first - sent_readings
            sent_readings += n
            due -= n
        if now >= next_probe:
            device = f"probe-{probe_n}"
            value = probes.make(PROBE_PLANT, [(device, BASE_TIME + timedelta(seconds=probe_n))])
            sent_at[device] = time.perf_counter()
            futures.append(await producer.send(topic, value=value, key=str(PROBE_PLANT).encode()))
            probe_n += 1
            next_probe += 0.05
        if futures:
            await asyncio.gather(*futures)
        await asyncio.sleep(tick)
    produce_s = time.perf_counter() - started
    stop.set()
    stopped_at[0] = time.perf_counter()
    await poller
    await producer.stop()
    cpu = cpu_seconds(pid) - cpu_before
    per_reading = meter.per_reading(sent_readings)
    async with httpx.AsyncClient() as client:
        stored = await count_readings(
            client, bucket, f"plant_id != '{PROBE_PLANT}' AND time > '{latency_from()}'"
        )
    delays = sorted((seen_at[d] - sent_at[d]) * 1000 for d in seen_at)
    lost = len(sent_at) - len(seen_at)
    p = statistics.quantiles(delays, n=100) if len(delays) >= 2 else delays * 99
    print(
        f"  sustained {rate:,} readings/s for {produce_s:.0f}s, {per_event} reading(s)/event: "
        f"produced {sent_readings:,}; produce->readable over {len(delays)} probes: "
        f"p50 {statistics.median(delays):.0f} ms, p99 {p[98]:.0f} ms, max {delays[-1]:.0f} ms"
        f"{f'; {lost} probes never seen' if lost else ''}; stored {stored:,}; service CPU "
        f"{cpu / produce_s * 100:.0f}% of one core, RSS max {max(rss):.0f} MiB; "
        f"CPU per reading (with the probe queries): {per_reading}"
    )
    return sent_readings


async def influx_settles(limit_s: float = 180) -> float:
    """Until InfluxDB is idle (under 3% of a core for 15 s, longer than its
    cache-snapshot-write-cold-duration): the cache snapshots and compactions
    that follow the writes; how long that took."""
    pid = influxd_pid()
    started = time.perf_counter()
    quiet = 0
    while time.perf_counter() - started < limit_s and quiet < 15:
        before = cpu_seconds(pid)
        await asyncio.sleep(1)
        quiet = quiet + 1 if cpu_seconds(pid) - before < 0.03 else 0
    return time.perf_counter() - started


async def main() -> None:
    global DEVICES, DEVICES_PER_PLANT  # the fleet's shape, set once here
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ceiling-points", type=int, default=200_000, help="0: no ceiling run")
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--readings-per-event", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--devices", type=int, default=DEVICES)
    parser.add_argument("--devices-per-plant", type=int, default=DEVICES_PER_PLANT)
    parser.add_argument("--no-latency", action="store_true", help="the capacity run only")
    args = parser.parse_args()
    DEVICES, DEVICES_PER_PLANT = args.devices, args.devices_per_plant
    print(f"machine: {describe()}")
    print(f"  fleet: {DEVICES:,} devices, {DEVICES_PER_PLANT} a plant")
    if args.ceiling_points:
        ceiling = await influx_ceiling(args.ceiling_points)
        print(
            f"  InfluxDB ceiling: {args.ceiling_points:,} points in batches of {BATCH:,} "
            f"(plain HTTP line protocol): {ceiling:,.0f} points/s"
        )
    for per_event in args.readings_per_event:
        run = uuid.uuid4().hex[:8]
        topic = f"measurement.v1.bench-{run}"
        database = f"cerc_bench_{run}"
        recreate_influx(database)
        await create_topic(topic)
        bucket = f"{database}/autogen"
        service, url = start_service(topic, bucket, run)
        try:
            whole = CpuMeter(service.pid)
            readings = await capacity(topic, bucket, args.readings, per_event, service.pid, url)
            if not args.no_latency:
                readings += await latency(
                    topic, bucket, args.rate, args.seconds, per_event, service.pid
                )
            settled = await influx_settles()
            print(
                f"  whole run, {per_event} reading(s)/event, {readings:,} readings, with "
                f"InfluxDB's snapshots and compactions until idle ({settled:.0f} s after): CPU "
                "per reading "
                f"{whole.per_reading(readings)}"
            )
        finally:
            service.terminate()
            service.wait(timeout=30)
            drop_influx(database)


if __name__ == "__main__":
    asyncio.run(main())
