"""Mosquitto's persistence save: how long it stalls routing, by queue size.

Mosquitto writes its whole in-memory store at each autosave, on its one
thread. After a long bridge outage the store holds what was queued for the
bridge's persistent session, and every save then stops all routing. This
bench starts a Mosquitto of its own (BENCH_MQTT_PORT, a temporary directory;
never the shared broker), queues N readings-sized QoS 1 messages for an
offline persistent session, then asks for a save (SIGUSR1, what autosave
does) while a probe publishes to itself every 5 ms, and prints the longest
probe round trip during the save against the idle one.

    uv run python bench/bench_mosquitto_save.py [--queued 0,300000,1000000,3000000]

Figures are printed, never asserted; README "Mosquitto persistence" uses them
to choose autosave_interval.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiomqtt
from iot_service.mqtt.wire import connect_packet, publish_packet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_device_path import Acks
from machine import describe

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = (
    b'{"device_id":"bench-000001","plant_id":1,"timestamp":"2025-09-04T10:00:00Z",'
    b'"measurements":{"energy_produced":1234.567,"energy_consumed":2345.678,'
    b'"power_produced":2.5,"power_consumed":1.1,"voltage":230.1,"current":4.2,'
    b'"frequency":50.0,"power_factor":0.97},"status":{"battery_level":80,"signal_strength":-60}}'
)


def port() -> int:
    for line in (ROOT / "infra" / "ports.env").read_text().splitlines():
        if line.startswith("BENCH_MQTT_PORT="):
            return int(line.split("=", 1)[1])
    raise SystemExit("BENCH_MQTT_PORT is missing from infra/ports.env")


class Broker:
    def __init__(self, home: Path, mqtt_port: int) -> None:
        self.home, self.port = home, mqtt_port
        self.data = home / "data"
        self.data.mkdir(parents=True)
        conf = home / "mosquitto.conf"
        conf.write_text(
            f"listener {mqtt_port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.data}/\n"
            # Saves only when asked (SIGUSR1) or at exit: the bench decides when.
            "autosave_interval 0\n"
            "max_queued_messages 3000000\n"
            "max_inflight_messages 5000\n"
            "sys_interval 1\n"
            f"log_dest file {home / 'mosquitto.log'}\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
        )
        if os.geteuid() == 0:
            shutil.chown(home, "mosquitto")
            shutil.chown(self.data, "mosquitto")
        self.process = subprocess.Popen(["mosquitto", "-c", str(conf)])

    def saves(self) -> int:
        log = self.home / "mosquitto.log"
        return (
            log.read_text(errors="replace").count("Saving in-memory database")
            if log.exists()
            else 0
        )

    def stop(self) -> None:
        self.process.send_signal(signal.SIGKILL)  # no save at exit: nothing to keep
        self.process.wait(10)


async def wait_up(mqtt_port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            async with aiomqtt.Client("127.0.0.1", mqtt_port, identifier="bench-ping"):
                return
        except aiomqtt.MqttError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def queue_for_offline_session(mqtt_port: int, count: int) -> float:
    # The "bridge": a persistent session subscribed at QoS 1, then gone.
    async with aiomqtt.Client(
        "127.0.0.1", mqtt_port, identifier="bench-bridge", clean_session=False
    ) as bridge:
        await bridge.subscribe("energy/#", qos=1)
    if not count:
        return 0.0
    started = time.monotonic()
    await publish_qos1(mqtt_port, count)
    return time.monotonic() - started


async def publish_qos1(mqtt_port: int, count: int, window: int = 20_000) -> None:
    """``count`` QoS 1 readings on one raw connection, at most ``window`` unacknowledged
    (the bridge's own wire format, iot_service.mqtt.wire: fast enough to fill millions)."""
    loop = asyncio.get_running_loop()
    transport, acks = await loop.create_connection(Acks, "127.0.0.1", mqtt_port)
    transport.write(connect_packet("bench-device", None, None, clean=True, keepalive=60))
    await asyncio.wait_for(acks.connack, 10)
    topic = "energy/plant/1/device/bench/measurements"
    sent = 0
    while sent < count:
        while sent - acks.acked >= window:  # noqa: ASYNC110 - acks arrive by callback
            await asyncio.sleep(0.001)
        batch = min(1000, count - sent)
        transport.write(
            b"".join(publish_packet(topic, PAYLOAD, (sent + i) % 65_535 + 1) for i in range(batch))
        )
        sent += batch
    deadline = time.monotonic() + 120
    while acks.acked < count and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    transport.close()
    if acks.acked < count:
        raise SystemExit(f"only {acks.acked} of {count} publishes acknowledged")


async def stored_messages(mqtt_port: int) -> int:
    """What the broker holds: $SYS/broker/store/messages/count (sent every second)."""
    async with aiomqtt.Client("127.0.0.1", mqtt_port, identifier="bench-sys") as client:
        await client.subscribe("$SYS/broker/store/messages/count")
        async for message in client.messages:
            return int(bytes(message.payload))  # type: ignore[arg-type]
    raise SystemExit("no $SYS store count from Mosquitto")


async def probe_round_trips(mqtt_port: int, seconds: float, during: asyncio.Event) -> list[float]:
    """Round trips of QoS 0 probes every 5 ms, for ``seconds`` after ``during`` is set."""
    sent: dict[int, float] = {}
    trips: list[float] = []
    async with aiomqtt.Client("127.0.0.1", mqtt_port, identifier="bench-probe") as client:
        await client.subscribe("bench/probe", qos=0)

        async def listen() -> None:
            async for message in client.messages:
                n = int(bytes(message.payload))  # type: ignore[arg-type]
                trips.append(time.monotonic() - sent.pop(n))

        listener = asyncio.create_task(listen())
        await during.wait()
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            sent[n] = time.monotonic()
            await client.publish("bench/probe", str(n).encode(), qos=0)
            n += 1
            await asyncio.sleep(0.005)
        await asyncio.sleep(1)
        listener.cancel()
        # A probe never answered counts as the whole window.
        trips.extend(seconds for _ in sent)
    return trips


async def one(queued: int, mqtt_port: int) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="cerc-bench-mosquitto-"))
    home.chmod(0o755)  # noqa: ASYNC240 - before anything runs
    broker = Broker(home, mqtt_port)
    try:
        await wait_up(mqtt_port)
        fill_s = await queue_for_offline_session(mqtt_port, queued)
        await asyncio.sleep(1.5)  # the next $SYS update counts everything sent
        held = await stored_messages(mqtt_port)
        idle_go = asyncio.Event()
        idle_go.set()
        idle = await probe_round_trips(mqtt_port, 2.0, idle_go)
        go = asyncio.Event()
        probing = asyncio.create_task(probe_round_trips(mqtt_port, 8.0, go))
        await asyncio.sleep(0.5)
        go.set()
        await asyncio.sleep(0.5)
        before = broker.saves()
        broker.process.send_signal(signal.SIGUSR1)
        during = await probing
        if broker.saves() <= before:
            raise SystemExit(f"Mosquitto did not log a save (see {home / 'mosquitto.log'})")
        size = sum(p.stat().st_size for p in broker.data.iterdir())
        return {
            "queued": held,
            "fill_s": fill_s,
            "store_mb": size / 1e6,
            "idle_p50_ms": statistics.median(idle) * 1000,
            "save_max_ms": max(during) * 1000,
        }
    finally:
        broker.stop()
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queued", default="0,300000,1000000,3000000", help="queue sizes to try")
    args = parser.parse_args()
    mqtt_port = port()
    print(f"Mosquitto save stall ({describe()})")
    header = ("stored", "fill s", "store MB", "idle p50 ms", "max during save ms")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (10, 8, 9, 12, 19), strict=True)))
    for queued in (int(q) for q in args.queued.split(",")):
        r = asyncio.run(one(queued, mqtt_port))
        print(
            f"{r['queued']:>10,.0f} {r['fill_s']:>8.1f} {r['store_mb']:>9.1f} "
            f"{r['idle_p50_ms']:>12.2f} {r['save_max_ms']:>19.1f}"
        )


if __name__ == "__main__":
    main()
