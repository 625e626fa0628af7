"""Kill the bridge (SIGKILL) while devices publish: nothing is lost, nothing counted twice."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from iot_service.settings import IotSettings

from .live import Devices, KafkaTail, LivePlant, discard_session, readings_of
from .mqtt_helpers import connect

MIN_READINGS_PER_DEVICE = 20
T0 = datetime(2025, 9, 4, 0, 0, tzinfo=UTC)


class BridgeProcess:
    def __init__(self, settings: IotSettings, log: Path) -> None:
        self.settings = settings
        tag = uuid.uuid4().hex[:8]
        self.env = {
            **os.environ,
            "CERC_IOT_ENVIRONMENT": "test",
            "CERC_IOT_DATABASE_URL": settings.database_url,
            "CERC_IOT_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "CERC_IOT_MQTT_PORT": str(settings.mqtt_port),
            # One client id across restarts: its session, and what queued in it, is found again.
            "CERC_IOT_BRIDGE_CLIENT_ID": f"test-restart-{tag}",
            "CERC_IOT_BRIDGE_SHARE_GROUP": f"test-restart-{tag}",
        }
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "iot_service.bridge",
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        try:
            for _ in range(600):
                if "subscribed" in self.log.read_bytes()[offset:].decode(errors="replace"):
                    return
                assert self.proc.returncode is None, self.log.read_text()
                await asyncio.sleep(0.05)
            raise AssertionError("the bridge never subscribed:\n" + self.log.read_text())
        except BaseException:
            # Not left running (and reconnecting, its session queueing every
            # device message) after the test failed.
            await self.stop()
            raise

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        await asyncio.wait_for(self.proc.wait(), 10)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await asyncio.wait_for(self.proc.wait(), 10)
        await discard_session(
            self.settings.model_copy(
                update={"bridge_client_id": self.env["CERC_IOT_BRIDGE_CLIENT_ID"]}
            )
        )


@pytest.mark.parametrize("kills", [2])
async def test_every_reading_arrives_once_per_device_and_timestamp(
    settings: IotSettings,
    devices: Devices,
    live_plant: LivePlant,
    tmp_path: Path,
    kills: int,
) -> None:
    creds = [await devices.add(live_plant.plant_id) for _ in range(3)]
    bridge = BridgeProcess(settings, tmp_path / "bridge.log")
    await bridge.start()
    sent: dict[str, list[tuple[str, float]]] = defaultdict(list)
    try:
        async with KafkaTail("measurement.v1") as tail:

            async def publish(index: int) -> None:
                c = creds[index]
                async with connect(c.username, c.password) as client:
                    i = 0
                    while not done_killing.is_set() or i < MIN_READINGS_PER_DEVICE:
                        ts = (T0 + timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
                        kwh = round(1000 * index + 0.25 * i + (i % 3) * 0.01, 3)
                        body = {
                            "timestamp": ts,
                            "measurements": {"energy_consumed": kwh},
                        }
                        await client.publish(c.topics.measurements, json.dumps(body), qos=1)
                        sent[c.device_id].append((ts, kwh))
                        i += 1
                        await asyncio.sleep(0.05)

            done_killing = asyncio.Event()
            publishers = asyncio.gather(*(publish(i) for i in range(len(creds))))
            for _ in range(kills):
                await asyncio.sleep(0.4)
                before = sum(len(v) for v in sent.values())
                await bridge.kill()
                await asyncio.sleep(0.5)
                # Devices went on publishing while it was down.
                assert sum(len(v) for v in sent.values()) > before
                await bridge.start()
            await asyncio.sleep(0.3)
            done_killing.set()
            await publishers
            ids = {c.device_id for c in creds}
            expected = sum(len(v) for v in sent.values())

            def complete(records: list[object]) -> bool:
                got = {(r["device_id"], r["timestamp"]) for _, _, r in readings_of(records, ids)}
                return len(got) >= expected

            records = await tail.until(complete, seconds=60)
            # A moment more, so late duplicates (if any) are counted too.
            records += await tail.records(1.0)
    finally:
        await bridge.stop()

    assert bridge.starts == kills + 1
    readings = [r for _, _, r in readings_of(records, ids)]
    unique: dict[tuple[str, str], float | None] = {}
    for r in readings:
        key = (r["device_id"], r["timestamp"])
        # A duplicate is the same reading again, never a different energy.
        assert unique.setdefault(key, r["energy_consumed_kwh"]) == r["energy_consumed_kwh"]
    assert len(readings) >= expected
    assert len(unique) == expected
    for device_id, series in sent.items():
        stamps = sorted(ts for d, ts in unique if d == device_id)
        assert [s.replace("Z", "") for s in stamps] == [t.replace("Z", "") for t, _ in series]
        energy = sum(v or 0 for (d, _), v in unique.items() if d == device_id)
        assert energy == pytest.approx(series[-1][1] - series[0][1])
