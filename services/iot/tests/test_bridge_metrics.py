"""What the bridge tells Prometheus (the alerts on the device path read these):
its session, the readings it sent, the messages it dead-lettered, on the
health port's /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from cerc_shared.testing import eventually
from iot_service.bridge import BridgeRunner
from iot_service.bridge.runner import health_server
from prometheus_client import REGISTRY

from .live import Devices, KafkaTail, LivePlant, readings_of
from .mqtt_helpers import connect
from .test_bridge import spec


async def _get(port: int, path: str) -> tuple[str, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    answer = (await reader.read()).decode()
    writer.close()
    head, _, body = answer.partition("\r\n\r\n")
    return head.splitlines()[0], body


def _value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_the_bridge_reports_readings_dead_letters_and_its_session(
    bridge: BridgeRunner, devices: Devices, live_plant: LivePlant
) -> None:
    dlq = bridge.settings.topic(bridge.settings.bridge_dlq_topic)
    dead_before = _value("dead_letters_total", {"topic": dlq, "consumer": "iot-bridge"})
    readings_before = _value("iot_bridge_readings_total")
    creds = await devices.add(live_plant.plant_id)
    dev, plant = creds.device_id, live_plant.plant_id
    async with KafkaTail("measurement.v1") as accepted, KafkaTail("iot.mqtt.dlq") as dead:
        async with connect(creds.username, creds.password) as client:
            await client.publish(creds.topics.measurements, b"not json", qos=1)
            for minute in (0, 15):
                await client.publish(
                    creds.topics.measurements, spec(dev, plant, minute, 1.0 + minute, 1.0), qos=1
                )
        await dead.until(lambda r: any(dev.encode() in (x.key or b"") for x in r))
        await accepted.until(lambda r: len(readings_of(r, {dev})) >= 1)
    # The bridge counts a record once Kafka has acknowledged it, which a consumer may
    # see a moment before: wait for the counters (a count that never moves still fails).
    await eventually(
        _counted(("dead_letters_total", {"topic": dlq, "consumer": "iot-bridge"}), dead_before),
        "the dead letter counted",
        timeout_s=10,
    )

    server = await health_server(bridge, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        status, body = await _get(port, "/metrics")
        health, _ = await _get(port, "/")
    finally:
        server.close()
    assert status == "HTTP/1.1 200 OK"
    assert health == "HTTP/1.1 200 OK"
    assert "iot_bridge_connected 1.0" in body
    assert "iot_bridge_unacknowledged_cap" in body
    assert _value("dead_letters_total", {"topic": dlq, "consumer": "iot-bridge"}) >= dead_before + 1
    # The first reading is the counters' baseline; the second makes one interval.
    assert _value("iot_bridge_readings_total") >= readings_before + 1
    assert _value("iot_bridge_last_progress_timestamp_seconds") > 0


def _counted(metric: tuple[str, dict[str, str]], before: float) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return _value(*metric) >= before + 1

    return check
