"""Live shared energy end to end: a probe reading published over MQTT ->
Mosquitto -> bridge -> Kafka -> energy (stored, counted by the live tally) ->
Server-Sent Events -> through the gateway -> seen by a client, under the
device-path bench's background load (run: `uv run python bench/bench_live.py`,
or `make bench`).

1. A fleet of its own (user, iot, energy and the gateway; ``OFFSET``, its own
   PostgreSQL database, Kafka namespace and InfluxDB database).
2. One community: the load's plants (two meters each) on one primary
   substation, the probe's plant alone on another, all as ``plant.v1`` events
   so the IoT and energy read models both know them; the load's devices are
   written to the IoT service's table (provisioning is not what is measured),
   the probe is provisioned through the IoT API. A manager registers, logs in
   and becomes the community's ADMIN through a ``membership.v1`` event.
3. Warm-up, not timed: every device's baseline reading, stored.
4. The timed run: the device-path bench's publisher writes the load at a fixed
   rate (5,000 readings/s by default; readings stamped near the wall clock, so
   the tally counts them: it counts today's readings only), and a probe
   reading every 200 ms adds 0.010 kWh to the probe's production. One SSE
   client, the manager, reads ``/api/energy/live/?community_id=`` through the
   gateway; a probe is seen at the first ``live`` event whose probe substation
   shows today's production including it. Prints p50/p95/p99/max of publish ->
   seen, the sample count, the events received and the load stored.

Loopback only; bounded in count and time. Prints figures, never asserts; stops
with an error when it cannot measure (no event, a probe never seen, load not
stored).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaProducer
from cerc_shared.clock import ITALY
from cerc_shared.events import Event, EventEnvelope
from cerc_shared.events.cer import MembershipStarted, PlantRegistered
from cerc_shared.settings import namespaced

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))
import fleet  # noqa: E402
from bench_device_path import (  # noqa: E402
    DEVICE_COLUMNS,
    PLANT_BASE,
    PROBE_DEVICE,
    PROBE_PLANT,
    Fleet,
    Publisher,
    device_rows,
    fresh_fleet,
    plant_of,
    probe_record_times,
    provision_probe,
    wait_written,
)
from bench_ingest import energy_written, points_written  # noqa: E402
from machine import describe  # noqa: E402

OFFSET = 5600
DATABASE = "cercollettiva_bench_live"
COMMUNITY = PLANT_BASE
ADMIN = ("bench-live-admin", "bench-live-admin@example.it", "Bench-Admin-Pass-1")  # throwaway
MANAGER = ("bench-live-manager", "bench-live-manager@example.it", "Bench-Manager-Pass-1")
PROBE_SUBSTATION = "AC999E00001"
LOAD_SUBSTATION = "AC999E00002"
PROBE_KWH = 0.010  # what each probe adds to the probe substation's production today
PROBE_EVERY_S = 0.2
LOAD_KWH = 0.025  # what each load reading adds (bench_device_path.Fleet.payload's registers)
EPOCH, US = datetime(1970, 1, 1, tzinfo=UTC), timedelta(microseconds=1)


def run_fleet(*args: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/fleet.py"), *args, "--port-offset", str(OFFSET)],
        check=True,
    )


def dsn(service: str, ports: dict[str, int]) -> str:
    return f"postgresql://{service}_svc:{service}_dev@127.0.0.1:{ports['PG_PORT']}/{DATABASE}"


# ---------------------------------------------------------------- the community


def plant_event(plant_id: int, substation: str, today: date) -> PlantRegistered:
    return PlantRegistered(
        plant_id=plant_id, pod=f"IT999E{plant_id:08d}", name=f"bench {plant_id}",
        community_id=COMMUNITY, owner_user_id=1, plant_type="PROSUMER",
        nominal_power_kw=Decimal("6.00"), technology="PV",
        entry_into_service=date(2024, 1, 1), region="Lombardia",
        primary_substation=substation, market_zone="NORD",
        capital_grant_eur_per_kw=Decimal(0), connection_voltage="BT",
        valid_from=today - timedelta(days=30), valid_to=None,
    )  # fmt: skip


async def publish_registry(plants: list[int], manager_id: int) -> None:
    """The plants and the manager's membership, as the CER service would announce them."""
    producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{fleet.read_ports(0)['KAFKA_PORT']}")
    await producer.start()
    today = datetime.now(ITALY).date()
    namespace = fleet.kafka_namespace(DATABASE)
    events: list[Event] = [plant_event(PROBE_PLANT, PROBE_SUBSTATION, today)]
    events += [plant_event(p, LOAD_SUBSTATION, today) for p in plants]
    events.append(
        MembershipStarted(
            membership_id=COMMUNITY,
            community_id=COMMUNITY,
            user_id=manager_id,
            role="ADMIN",
            member_type="PRIVATE",
            body_type="NONE",
            valid_from=today - timedelta(days=30),
            valid_to=None,
        )
    )
    try:
        for event in events:
            envelope = EventEnvelope.wrap(event, producer="bench", correlation_id=None)
            await producer.send(
                namespaced(namespace, event.topic),
                envelope.model_dump_json().encode(),
                key=event.key().encode(),
            )
        await producer.flush()
    finally:
        await producer.stop()


async def wait_registry(ports: dict[str, int], plants: int) -> None:
    """Until both read models hold every plant and energy holds the membership."""
    deadline = time.monotonic() + 300
    iot = await asyncpg.connect(dsn("iot", ports), server_settings={"search_path": "iot"})
    energy = await asyncpg.connect(dsn("energy", ports), server_settings={"search_path": "energy"})
    try:
        while time.monotonic() < deadline:
            in_iot = await iot.fetchval("SELECT count(*) FROM plants")
            in_energy = await energy.fetchval("SELECT count(*) FROM plant_periods")
            members = await energy.fetchval("SELECT count(*) FROM memberships")
            if in_iot >= plants and in_energy >= plants and members >= 1:
                return
            await asyncio.sleep(0.5)
    finally:
        await iot.close()
        await energy.close()
    raise SystemExit(f"the registry events did not reach the read models ({plants} plants)")


async def register_devices(ports: dict[str, int], devices: int, per_plant: int) -> None:
    conn = await asyncpg.connect(dsn("iot", ports), server_settings={"search_path": "iot"})
    try:
        await conn.copy_records_to_table(
            "devices",
            records=device_rows(devices, per_plant),
            columns=DEVICE_COLUMNS,
        )
        await conn.execute("ANALYZE devices")
    finally:
        await conn.close()


def login(gateway: str, username: str, password: str) -> str:
    response = httpx.post(
        f"{gateway}/api/auth/login/", json={"username": username, "password": password}
    )
    response.raise_for_status()
    token: str = response.json()["data"]["access_token"]
    return token


def admin_token(gateway: str, ports: dict[str, int]) -> str:
    user = next(s for s in fleet.FLEET if s.name == "user")
    subprocess.run(
        [sys.executable, "-m", "user_service.cli", "create-admin",
         "--username", ADMIN[0], "--email", ADMIN[1]],
        input=ADMIN[2] + "\n", text=True, check=True, cwd=ROOT,
        env=fleet.service_env(user, ports, DATABASE), capture_output=True,
    )  # fmt: skip
    return login(gateway, ADMIN[0], ADMIN[2])


def register_manager(gateway: str) -> int:
    body = {"username": MANAGER[0], "email": MANAGER[1], "password": MANAGER[2],
            "first_name": "Bench", "last_name": "Manager"}  # fmt: skip
    response = httpx.post(f"{gateway}/api/auth/register/", json=body)
    if response.status_code != 201:
        raise SystemExit(f"cannot register the manager: {response.status_code} {response.text}")
    user_id: int = response.json()["data"]["id"]
    return user_id


# ------------------------------------------------------------------- the load


class LiveFleet(Fleet):
    """The device-path bench's devices, with readings stamped near the wall
    clock (one round of every device each ``step``): the tally counts only
    today's readings, each newer than the device's last one."""

    def __init__(self, devices: int, per_plant: int, step: timedelta, lead: timedelta) -> None:
        super().__init__(devices, per_plant)
        self.step = step
        self.base = datetime.now(UTC).replace(microsecond=0) - lead

    def at(self, k: int) -> datetime:
        return self.base + k * self.step


async def warm_up(port: int, fleet_: LiveFleet, energy: str) -> float:
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
        want = {"energy_data": before.get("energy_data", 0) + fleet_.devices}
        if not await wait_written(client, energy, want, 600):
            raise SystemExit("the warm-up's baselines were not all stored in 600 s")
    return time.perf_counter() - started


# ------------------------------------------------------------------ the stream


class Stream:
    """The SSE client: when each probe's contribution first showed in an event."""

    def __init__(self) -> None:
        self.events = 0
        self.probe_kwh = 0.0  # the probe substation's production today, as last seen
        self.load_kwh = 0.0  # the load substation's, as last seen
        self.first_event = asyncio.Event()
        # The substations' production at the first event once the tally has read
        # the day (the namespace's earlier runs today count too): the run's
        # probes and load are measured from there.
        self.probe_base = self.load_base = 0.0
        self.seen_at: list[tuple[float, float]] = []  # (perf_counter, probe kwh) per event
        self.taken: list[float] = []  # per event, when the service took its snapshot (wall)
        self.received: list[float] = []  # per event, when the client read it (wall)

    def take(self, data: bytes) -> None:
        now, wall = time.perf_counter(), time.time()
        snapshot = orjson.loads(data)
        self.events += 1
        for row in snapshot["today"]["substations"]:
            if row["primary_substation"] == PROBE_SUBSTATION:
                self.probe_kwh = row["produced_kwh"]
            elif row["primary_substation"] == LOAD_SUBSTATION:
                self.load_kwh = row["produced_kwh"]
        self.seen_at.append((now, self.probe_kwh))
        # When the service took the snapshot (its wall clock, the same machine's).
        self.taken.append(datetime.fromisoformat(snapshot["at"]).timestamp())
        self.received.append(wall)
        if not self.first_event.is_set() and not snapshot.get("replaying", False):
            self.probe_base, self.load_base = self.probe_kwh, self.load_kwh
            self.first_event.set()

    async def read(self, gateway: str, token: str) -> None:
        url = f"{gateway}/api/energy/live/?community_id={COMMUNITY}"
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers=headers) as response,
        ):
            if response.status != 200:
                raise SystemExit(f"the live stream answered {response.status}: "
                                 f"{await response.text()}")  # fmt: skip
            event, data = b"", b""
            async for raw in response.content:
                line = raw.rstrip(b"\r\n")
                if not line:
                    if event == b"live" and data:
                        self.take(data)
                    event, data = b"", b""
                elif line.startswith(b"event:"):
                    event = line[6:].strip()
                elif line.startswith(b"data:"):
                    data += line[5:].strip()

    def first_showing(self, total_kwh: float, after: float) -> int | None:
        """The first event that showed the probe substation at ``total_kwh`` or more."""
        for index, (at, kwh) in enumerate(self.seen_at):
            if at >= after and kwh - self.probe_base >= total_kwh - PROBE_KWH / 2:
                return index
        return None


async def timed_run(
    port: int, fleet_: LiveFleet, rate: int, seconds: float, gateway: str, token: str,
    energy: str,
) -> dict[str, object]:  # fmt: skip
    publisher = await Publisher.connect(port)
    stream = Stream()
    reader = asyncio.create_task(stream.read(gateway, token))
    try:
        await asyncio.wait_for(stream.first_event.wait(), 120)
    except TimeoutError:
        reader.cancel()
        raise SystemExit("the live stream sent no caught-up event in 120 s") from None
    probe_topic = f"energy/plant/{PROBE_PLANT}/device/{PROBE_DEVICE}/measurements"
    # Each probe: published (perf_counter, wall clock), its timestamp (ns), and the
    # probe substation's total once it is counted.
    probes: list[tuple[float, float, int, float]] = []
    load = fleet_.encode_ahead(publisher, 1, int(rate * seconds))
    probe_register = 100.0
    async with httpx.AsyncClient(timeout=60) as http:
        before = await energy_written(http, energy)
        began = time.perf_counter()
        sent = step = 0
        while (elapsed := time.perf_counter() - began) < seconds:
            due = min(int(elapsed * rate), sent + rate // 10, len(load.offsets) - 1)
            if due > sent:
                publisher.write_encoded(load, sent, due)
                sent = due
            if elapsed >= step * PROBE_EVERY_S:
                at = datetime.now(UTC)
                probe_register += PROBE_KWH
                payload = (
                    b'{"timestamp":"' + at.isoformat(timespec="milliseconds").encode()
                    + b'","measurements":{"energy_produced":'
                    + f"{probe_register:.3f}".encode() + b',"voltage":230.0}}'
                )  # fmt: skip
                publisher.write([publisher.encode_probe(probe_topic, payload, step)])
                # The first probe of the run follows the warm-up's baseline, so
                # every probe adds its PROBE_KWH.
                whole_ms = at.replace(microsecond=at.microsecond // 1000 * 1000)
                stamp_ns = (whole_ms - EPOCH) // US * 1000
                probes.append((time.perf_counter(), time.time(), stamp_ns, PROBE_KWH * (step + 1)))
                step += 1
            await asyncio.sleep(0.005)
        publish_seconds = time.perf_counter() - began
        want = before + sent + len(probes)
        stored = await wait_written(http, energy, {"energy_data": want}, 300)
        stored_seconds = time.perf_counter() - began
        written = await energy_written(http, energy) - before
    # The last probes' events: at most a few push intervals after the last store.
    await asyncio.sleep(3)
    reader.cancel()
    publisher.close()
    if not stored:
        raise SystemExit(f"the load was not stored: {written:,.0f} of {want - before:,} in 300 s")
    in_kafka = await probe_record_times(fleet.kafka_namespace(DATABASE))
    latencies, missing = [], 0
    stages: dict[str, list[float]] = {"bridge": [], "energy": [], "stream": []}
    windows: dict[int, float] = {}  # the slowest probe of each 10 s: a spread or a periodic tail
    for published, published_wall, stamp, total in probes:
        shown = stream.first_showing(total, published)
        if shown is None:
            missing += 1
            continue
        latency = (stream.seen_at[shown][0] - published) * 1000
        latencies.append(latency)
        window = int((published - began) // 10)
        windows[window] = max(windows.get(window, 0.0), latency)
        taken, received = stream.taken[shown], stream.received[shown]
        recorded = in_kafka.get(stamp)
        if recorded is not None:
            stages["bridge"].append((recorded - published_wall) * 1000)
            stages["energy"].append((taken - recorded) * 1000)
        stages["stream"].append((received - taken) * 1000)
    return {
        "sent": sent,
        "publish_rate": sent / publish_seconds,
        "stored_rate": written / stored_seconds,
        "probes": len(probes),
        "missing": missing,
        "latencies": sorted(latencies),
        "stages": {name: sorted(values) for name, values in stages.items()},
        "windows": [windows[w] for w in sorted(windows)],
        "events": stream.events,
        # Every load reading after the baseline adds LOAD_KWH to production:
        # whether the tally counted the whole load, not only the probes.
        "load_counted_kwh": stream.load_kwh - stream.load_base,
        "load_sent_kwh": sent * LOAD_KWH,
        "seconds": publish_seconds,
    }


def percentile(ordered: list[float], p: float) -> float:
    """Nearest rank."""
    rank = -(-len(ordered) * p // 100)  # ceil
    return ordered[max(0, int(rank) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--devices-per-plant", type=int, default=2)
    parser.add_argument("--rate", type=int, default=5000, help="background readings per second")
    parser.add_argument("--seconds", type=float, default=40)
    args = parser.parse_args()
    ports = fleet.read_ports(OFFSET)
    step = timedelta(seconds=args.devices / args.rate)
    rounds = int(args.rate * args.seconds) // args.devices + 2
    fleet_ = LiveFleet(args.devices, args.devices_per_plant, step, lead=step * 3)
    first, last = fleet_.at(0).astimezone(ITALY), fleet_.at(rounds).astimezone(ITALY)
    if first.date() != last.date() or last.date() != datetime.now(ITALY).date():
        raise SystemExit(
            f"the run's readings ({first:%H:%M} to {last:%H:%M}) would cross Italian midnight,"
            " where the tally starts afresh: run it at another time"
        )
    fresh_fleet(OFFSET, DATABASE)
    try:
        gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
        energy = f"http://127.0.0.1:{ports['ENERGY_PORT']}"
        admin = admin_token(gateway, ports)
        manager_id = register_manager(gateway)
        plants = sorted({plant_of(n, args.devices_per_plant) for n in range(args.devices)})
        asyncio.run(publish_registry(plants, manager_id))
        asyncio.run(wait_registry(ports, len(plants) + 1))
        provision_probe(gateway, admin)
        asyncio.run(register_devices(ports, args.devices, args.devices_per_plant))
        manager = login(gateway, MANAGER[0], MANAGER[2])
        warm_seconds = asyncio.run(warm_up(ports["MQTT_PORT"], fleet_, energy))
        result = asyncio.run(
            probe_baseline_then_run(ports["MQTT_PORT"], fleet_, args, gateway, manager, energy)
        )
    finally:
        run_fleet("down", "--end-bridge-session")
    latencies: list[float] = result["latencies"]  # type: ignore[assignment]
    if not latencies or result["missing"]:
        raise SystemExit(
            f"cannot measure: {result['missing']} of {result['probes']} probes never showed in "
            f"the stream ({result['events']} events received)"
        )
    counted: float = result["load_counted_kwh"]  # type: ignore[assignment]
    offered: float = result["load_sent_kwh"]  # type: ignore[assignment]
    if abs(counted - offered) > LOAD_KWH / 2:
        raise SystemExit(
            f"the tally counted {counted:,.3f} kWh of the load's {offered:,.3f}: the run did not"
            " measure the live path with the whole load on it"
        )
    print(
        f"\n== live shared energy: MQTT > bridge > Kafka > energy tally > SSE > gateway > client, "
        f"{args.devices:,} devices ({args.devices_per_plant} a plant) =="
    )
    print(f"machine: {describe()}")
    print(f"warm-up: every device's baseline stored in {warm_seconds:.0f} s")
    print(
        f"background load: offered {args.rate:,}/s for {args.seconds:.0f} s, published "
        f"{result['sent']:,} ({result['publish_rate']:,.0f}/s), stored "
        f"{result['stored_rate']:,.0f}/s from first publish to last stored"
    )
    print(
        f"publish -> seen in the SSE stream ({len(latencies)} probes, one every "
        f"{PROBE_EVERY_S * 1000:.0f} ms): p50 {statistics.median(latencies):.0f} ms, "
        f"p95 {percentile(latencies, 95):.0f} ms, p99 {percentile(latencies, 99):.0f} ms, "
        f"max {latencies[-1]:.0f} ms"
    )
    stages: dict[str, list[float]] = result["stages"]  # type: ignore[assignment]
    if not stages["bridge"]:
        raise SystemExit("cannot split the latency: no probe found in Kafka")
    print(
        "split (wall clocks of one machine): "
        + "; ".join(
            f"{label} p50 {statistics.median(stages[name]):.0f} ms, "
            f"p99 {percentile(stages[name], 99):.0f} ms"
            for name, label in (
                ("bridge", "publish -> in a Kafka record (bridge)"),
                ("energy", "in Kafka -> snapshot taken (ingest, store, tally, push pacing)"),
                ("stream", "snapshot -> client (SSE through the gateway)"),
            )
        )
    )
    windows: list[float] = result["windows"]  # type: ignore[assignment]
    print("slowest probe per 10 s: " + ", ".join(f"{ms:.0f}" for ms in windows) + " ms")
    events: int = result["events"]  # type: ignore[assignment]
    seconds: float = result["seconds"]  # type: ignore[assignment]
    print(f"the tally counted the whole load: {counted:,.3f} kWh produced on its substation")
    print(f"live events received by the client: {events} ({events / seconds:.1f}/s)")


async def probe_baseline_then_run(
    port: int, fleet_: LiveFleet, args: argparse.Namespace, gateway: str, token: str,
    energy: str,
) -> dict[str, object]:  # fmt: skip
    """The probe's first reading (a baseline: no energy), stored; then the timed run."""
    publisher = await Publisher.connect(port)
    async with httpx.AsyncClient(timeout=60) as http:
        before = await energy_written(http, energy)
        payload = (
            b'{"timestamp":"' + datetime.now(UTC).isoformat(timespec="milliseconds").encode()
            + b'","measurements":{"energy_produced":100.000,"voltage":230.0}}'
        )  # fmt: skip
        topic = f"energy/plant/{PROBE_PLANT}/device/{PROBE_DEVICE}/measurements"
        publisher.write([publisher.encode_probe(topic, payload, 60_000)])
        await publisher.drain()
        publisher.close()
        if not await wait_written(http, energy, {"energy_data": before + 1}, 60):
            raise SystemExit("the probe's baseline was not stored in 60 s")
    return await timed_run(port, fleet_, args.rate, args.seconds, gateway, token, energy)


if __name__ == "__main__":
    main()
