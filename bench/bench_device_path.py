"""The whole device path: MQTT publish -> Mosquitto -> bridge -> Kafka ->
energy service -> InfluxDB -> readable (run: `uv run python bench/bench_device_path.py`,
or `make bench`; `--seconds 600` for the ten-minute memory run).

1. Ceiling: Mosquitto's own throughput, QoS 1 publishes to a plain subscriber.
2. The fleet (IoT service + bridge + energy service) on its own ports, database,
   Kafka namespace and InfluxDB bucket; plants fed to it as `plant.v1` events,
   devices provisioned through the IoT API.
3. Readings of those devices published over MQTT at a fixed rate for a fixed
   time (the specification's message, interval energy); probe readings every
   200 ms are timed from publish to readable in InfluxDB. Prints readings/s
   stored, p50/p99 publish-to-readable, and the bridge's memory over the run.

Loopback only; bounded in count and time. Prints figures, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiomqtt
import httpx
from aiokafka import AIOKafkaProducer
from cerc_shared.events import EventEnvelope
from cerc_shared.events.cer import PlantRegistered
from cerc_shared.settings import namespaced

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))
import fleet  # noqa: E402
from bench_ingest import count_readings, flux, recreate_influx, rss_mib  # noqa: E402
from machine import describe  # noqa: E402

OFFSET = 4000
DATABASE = "cercollettiva_bench_devices"
BUCKET = f"{DATABASE}/autogen"
ADMIN = ("bench-admin", "bench-admin@example.it", "Bench-Admin-Pass-1")  # throwaway account
MQTT_SERVICE = ("cerc_bridge", "cerc_bridge_dev")  # development key (infra/mosquitto.sh)
PLANT_BASE = 900_000
PROBE_DEVICE = "bench-probe"


def run_fleet(*args: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/fleet.py"), *args, "--port-offset", str(OFFSET)],
        check=True,
    )


def publish_lines(port: int, streams: dict[str, list[bytes]]) -> list[subprocess.Popen[bytes]]:
    """One native `mosquitto_pub -l` per topic (a device), QoS 1, as fast as it goes."""
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


async def feed_plants(namespace: str, plants: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{fleet.read_ports(0)['KAFKA_PORT']}")
    await producer.start()
    try:
        for i in range(plants):
            event = PlantRegistered(
                plant_id=PLANT_BASE + i, pod=f"IT999E{PLANT_BASE + i:08d}", name=f"bench {i}",
                community_id=PLANT_BASE, owner_user_id=1, plant_type="PROSUMER",
                nominal_power_kw=Decimal("6.00"), technology="PV",
                entry_into_service=date(2024, 1, 1), region="Lombardia",
                primary_substation="AC999E00001", market_zone="NORD",
                capital_grant_eur_per_kw=Decimal(0), connection_voltage="BT",
                valid_from=date(2024, 1, 1), valid_to=None,
            )  # fmt: skip
            envelope = EventEnvelope.wrap(event, producer="bench", correlation_id=None)
            await producer.send(
                namespaced(namespace, event.topic),
                envelope.model_dump_json().encode(),
                key=event.key().encode(),
            )
        await producer.flush()
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


def provision(gateway: str, token: str, devices: int, plants: int, prefix: str = "bench") -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=gateway, headers=headers, timeout=30) as client:
        wanted = [(f"{prefix}-{d:05d}", PLANT_BASE + d % plants) for d in range(devices)]
        if prefix == "bench":
            wanted.append((PROBE_DEVICE, PLANT_BASE))
        deadline = time.monotonic() + 60
        for device_id, plant_id in wanted:
            while True:
                body = {"device_id": device_id, "plant_id": plant_id, "model": "bench-meter",
                        "interval_s": 60}  # fmt: skip
                response = client.post("/api/iot/devices/", json=body)
                if response.status_code in (201, 409):
                    break
                # The plant may not have reached the IoT read model yet.
                if time.monotonic() > deadline:
                    raise SystemExit(f"cannot provision {device_id}: {response.text}")
                time.sleep(0.5)


def message(device_id: str, plant_id: int, at: datetime, kwh: float) -> bytes:
    return json.dumps(
        {
            "device_id": device_id,
            "plant_id": plant_id,
            "timestamp": at.isoformat(),
            "energy_mode": "interval",
            "interval_s": 1,
            "measurements": {"energy_produced": kwh, "energy_consumed": kwh / 2, "voltage": 230.1},
        }
    ).encode()


async def load(
    port: int, devices: int, plants: int, rate: int, seconds: float, bridge_pid: int
) -> dict[str, object]:
    user, password = MQTT_SERVICE
    start_at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=seconds + 60)
    probes: dict[datetime, float] = {}
    seen: dict[datetime, float] = {}
    rss: list[float] = []
    sent = 0
    stop = asyncio.Event()

    async def sample_memory() -> None:
        while not stop.is_set():
            rss.append(rss_mib(bridge_pid))
            await asyncio.sleep(2)

    async def watch_probes(client: httpx.AsyncClient) -> None:
        since = start_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        while not stop.is_set() or len(seen) < len(probes):
            csv = await flux(
                client,
                f'from(bucket: "{BUCKET}") |> range(start: {since})'
                f' |> filter(fn: (r) => r._measurement == "energy_data" and r.device_id == '
                f'"{PROBE_DEVICE}" and r._field == "energy_produced") |> keep(columns: ["_time"])',
            )
            now = time.perf_counter()
            rows = [r.split(",") for r in csv.splitlines() if r.strip() and not r.startswith("#")]
            if rows:
                column = rows[0].index("_time")
                for cells in rows[1:]:
                    at = datetime.fromisoformat(cells[column].replace("Z", "+00:00"))
                    seen.setdefault(at, now)
            if stop.is_set() and time.perf_counter() - stop_time > 30:
                return
            await asyncio.sleep(0.05)

    stop_time = 0.0
    async with (
        aiomqtt.Client(
            "127.0.0.1", port, username=user, password=password, max_inflight_messages=1000
        ) as mqtt,
        httpx.AsyncClient() as http,
    ):
        tasks = [asyncio.create_task(sample_memory()), asyncio.create_task(watch_probes(http))]
        began = time.perf_counter()

        async def probe() -> None:
            step = 0
            while time.perf_counter() - began < seconds:
                at = start_at + timedelta(milliseconds=200 * step)
                probes[at] = time.perf_counter()
                await mqtt.publish(
                    f"energy/plant/{PLANT_BASE}/device/{PROBE_DEVICE}/measurements",
                    message(PROBE_DEVICE, PLANT_BASE, at, 0.02),
                    qos=1,
                )
                step += 1
                await asyncio.sleep(0.2)

        prober = asyncio.create_task(probe())
        while (elapsed := time.perf_counter() - began) < seconds:
            due = min(int(elapsed * rate), sent + rate // 10)
            batch = []
            while sent < due:
                device = sent % devices
                at = start_at + timedelta(seconds=sent // devices)
                plant, device_id = PLANT_BASE + device % plants, f"bench-{device:05d}"
                batch.append(
                    mqtt.publish(
                        f"energy/plant/{plant}/device/{device_id}/measurements",
                        message(device_id, plant, at, 0.01),
                        qos=1,
                    )
                )
                sent += 1
            await asyncio.gather(*batch)
            await asyncio.sleep(0.01)
        await prober
        publish_seconds = time.perf_counter() - began
        stop.set()
        stop_time = time.perf_counter()
        deadline = time.monotonic() + 120
        stored = 0
        while time.monotonic() < deadline:
            stored = await count_readings(http, BUCKET, "r.device_id =~ /^bench-0/")
            if stored >= sent:
                break
            await asyncio.sleep(1)
        all_stored = time.perf_counter() - began
        await asyncio.gather(*tasks)
    latencies = sorted((seen[t] - probes[t]) * 1000 for t in probes if t in seen)
    return {
        "sent": sent,
        "stored": stored,
        "publish_rate": sent / publish_seconds,
        "stored_rate": stored / all_stored,
        "probes": len(probes),
        "probes_seen": len(latencies),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan"),
        "max": latencies[-1] if latencies else float("nan"),
        "rss": rss,
    }


async def capacity(port: int, devices: int, plants: int, readings: int) -> tuple[int, float]:
    """A backlog published by native clients as fast as they go; readings stored per second."""
    start_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    per_device = readings // devices
    streams = {}
    for device in range(devices):
        plant, device_id = PLANT_BASE + device % plants, f"cap-{device:05d}"
        streams[f"energy/plant/{plant}/device/{device_id}/measurements"] = [
            message(device_id, plant, start_at + timedelta(seconds=i), 0.01)
            for i in range(per_device)
        ]
    started = time.perf_counter()
    procs = publish_lines(port, streams)
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
    total = per_device * devices
    stored = 0
    async with httpx.AsyncClient() as http:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            stored = await count_readings(http, BUCKET, "r.device_id =~ /^cap-/")
            if stored >= total:
                break
            await asyncio.sleep(0.5)
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.wait(timeout=60)
    return stored, stored / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--plants", type=int, default=100)
    parser.add_argument("--rate", type=int, default=1000, help="paced readings per second")
    parser.add_argument("--capacity-devices", type=int, default=50)
    parser.add_argument("--capacity-readings", type=int, default=60_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--ceiling-messages", type=int, default=50_000)
    args = parser.parse_args()
    ports = fleet.read_ports(OFFSET)
    mqtt_port = ports["MQTT_PORT"]

    ceiling = mosquitto_ceiling(mqtt_port, args.ceiling_messages)
    recreate_influx(DATABASE)
    subprocess.run(
        ["bash", str(ROOT / "infra/postgres/bootstrap-db.sh"), DATABASE, "--recreate"],
        check=True, capture_output=True,
    )  # fmt: skip
    run_fleet("down")
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/fleet.py"), "up", "--only", "user,iot,energy",
         "--port-offset", str(OFFSET), "--database", DATABASE],
        check=True, env={**os.environ, "CERC_FLEET_WORKERS": "1"},
    )  # fmt: skip
    try:
        gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
        asyncio.run(feed_plants(fleet.kafka_namespace(DATABASE), args.plants))
        token = admin_token(gateway, ports)
        provision(gateway, token, args.devices, args.plants)
        provision(gateway, token, args.capacity_devices, args.plants, prefix="cap")
        stored_backlog, capacity_rate = asyncio.run(
            capacity(mqtt_port, args.capacity_devices, args.plants, args.capacity_readings)
        )
        bridge_pid = int((fleet.run_dir(OFFSET) / "iot-bridge.pid").read_text())
        result = asyncio.run(
            load(mqtt_port, args.devices, args.plants, args.rate, args.seconds, bridge_pid)
        )
    finally:
        run_fleet("down")
    rss: list[float] = result["rss"]  # type: ignore[assignment]
    quarter = max(1, len(rss) // 4)
    print(f"\n== device path: MQTT > bridge > Kafka > energy > InfluxDB, {args.devices} devices ==")
    print(f"machine: {describe()}")
    print(f"ceiling, Mosquitto alone (native QoS 1 publishers -> subscriber): {ceiling:,.0f} msg/s")
    print(
        f"capacity, backlog of {args.capacity_readings:,} readings from {args.capacity_devices} "
        f"native publishers: {stored_backlog:,} stored, {capacity_rate:,.0f} readings/s "
        f"publish -> stored ({capacity_rate / ceiling:.0%} of the ceiling)"
    )
    print(
        f"paced run, offered {args.rate:,}/s for {args.seconds:.0f} s: "
        f"published {result['sent']:,} "
        f"({result['publish_rate']:,.0f}/s), stored {result['stored']:,} "
        f"({result['stored_rate']:,.0f}/s from first publish to last stored)"
    )
    print(
        f"publish -> readable ({result['probes_seen']}/{result['probes']} probes): "
        f"p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms, max {result['max']:.0f} ms"
    )
    print(
        f"bridge RSS: first quarter {statistics.mean(rss[:quarter]):.1f} MiB, "
        f"last quarter {statistics.mean(rss[-quarter:]):.1f} MiB, max {max(rss):.1f} MiB "
        f"({len(rss)} samples)"
    )


if __name__ == "__main__":
    main()
