"""Simulated meters publishing through Mosquitto with their own credentials.

    uv run python scripts/simulator.py [--count 4] [--interval 60] [--speedup 1]
                                       [--duration 0] [--plant-id ID ...]

A development tool (``make dev``, ``make simulate``), kept out of the iot
service's package: no deployment ships it.

Each device is provisioned through the IoT service layer (platform admin, on
plants the service knows from ``plant.v1``), its credentials kept in
``.run/simulator/devices.json`` so a rerun reuses them. The devices are, in
turn, PV generators (the clear-sky output of a south-facing roof under the real
sun of the demo community's region, from pvlib through ``cerc_profiles``, so it
rises and sets with the season, times a cloud factor drifting between 0.3 and 1;
measuring point ``generator``), household
loads (a base load with a morning peak near 07:30 and an evening peak near
19:30; ``load``) and prosumers' grid-connection meters (a PV bell and a
household load behind one meter whose registers are export and import;
``grid_connection``: the energy service stores them as fed-in and withdrawn
energy, so the demo community has shared energy within minutes). They publish
the specification's message with cumulative registers, a status every tenth
reading, and acknowledge any command they receive. Like real devices they
connect over TLS, to Mosquitto's MQTT_TLS_PORT (infra/ports.env), trusting the
development CA (cerc_shared.dev_tls; ``--cafile`` for another).

``--speedup N`` runs simulated time N times faster. Readings must not lie in
the future, so with a speed-up the simulation starts ``duration x speedup``
seconds in the past and ends about now; ``--duration 0`` runs until stopped
(then the speed-up is 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiomqtt
from cerc_profiles.pv import pv_kwh_per_kw
from cerc_shared import db
from cerc_shared.auth import Principal
from cerc_shared.clock import ITALY
from cerc_shared.dev_tls import ensure_dev_pki
from cerc_shared.events.iot import MeasuringPoint
from iot_service import service
from iot_service.models import Device, registry
from iot_service.mqtt.dynsec import DynSec
from iot_service.mqtt.publisher import CommandPublisher
from iot_service.schemas import DeviceCreate
from iot_service.service import IotContext
from iot_service.settings import IotSettings
from sqlalchemy import select

STATE_FILE = Path(".run/simulator/devices.json")
PORTS_ENV = Path(__file__).resolve().parent.parent / "infra" / "ports.env"


def mqtt_tls_port() -> int:
    """The devices' port: Mosquitto's TLS listener."""
    for line in PORTS_ENV.read_text().splitlines():
        if line.startswith("MQTT_TLS_PORT="):
            return int(line.split("=", 1)[1])
    raise SystemExit(f"MQTT_TLS_PORT missing from {PORTS_ENV}")


KINDS = ("pv", "home", "grid")
MEASURING_POINTS: dict[str, MeasuringPoint] = {
    "pv": "generator",
    "home": "load",
    "grid": "grid_connection",
}
# The demo community is in Bergamo (scripts/demo_community.py); its plants'
# coordinates are not the simulator's business, one sky serves them all.
SITE = (45.698, 9.677)


class Sun:
    """Clear-sky AC kW per kW of panels at ``SITE`` for each UTC hour, computed a
    day at a time with pvlib (``cerc_profiles.pv_kwh_per_kw``) and kept. The
    value holds for the whole hour, so an hour's simulated energy is the clear
    sky's hourly energy times the clouds: no PV before sunrise or after sunset."""

    def __init__(self, site: tuple[float, float] = SITE) -> None:
        self._site = site
        self._days: dict[date, list[float]] = {}

    def kw_per_kw(self, at: datetime) -> float:
        at = at.astimezone(UTC)
        day = at.date()
        hours = self._days.get(day)
        if hours is None:
            midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
            energies = pv_kwh_per_kw(*self._site, midnight, midnight + timedelta(days=1))
            hours = self._days[day] = [float(e.kwh) for e in energies]
        return hours[at.hour]


SUN = Sun()
SIMULATOR = Principal(user_id=0, username="simulator", user_type="ADMIN", token_id="simulator")  # noqa: S106 - not a secret


@dataclass
class SimDevice:
    device_id: str
    # The MQTT user name: `dev-` + the id (devices provisioned before the
    # prefix keep their id as user name until their credentials are rotated).
    username: str
    plant_id: int
    password: str
    kind: str  # "pv", "home" or "grid" (a prosumer's grid connection)
    peak_kw: float
    produced_kwh: float = 0.0
    consumed_kwh: float = 0.0
    cloud: float = 1.0
    rng: random.Random = field(default_factory=random.Random)

    def step(self, at: datetime, seconds: float) -> tuple[float, float]:
        """Advance the registers over ``seconds`` ending at ``at``; return (pv kW, load kW)."""
        # The household's day follows the Italian clock, the panels the sun.
        local = at.astimezone(ITALY)
        hour = local.hour + local.minute / 60
        self.cloud = min(1.0, max(0.3, self.cloud + self.rng.gauss(0, 0.05)))
        pv = 0.0
        if self.kind in ("pv", "grid"):
            # The reading at ``at`` closes the step: the sun of the instant just before it.
            pv = self.peak_kw * SUN.kw_per_kw(at - timedelta(seconds=1)) * self.cloud
        load = 0.0
        if self.kind in ("home", "grid"):
            load = (
                0.25
                + 0.8 * math.exp(-(((hour - 7.5) / 1.0) ** 2))
                + 1.5 * math.exp(-(((hour - 19.5) / 1.5) ** 2))
            ) * (1 + self.rng.gauss(0, 0.08))
            load = max(0.05, load)
        if self.kind == "grid":
            # One meter at the connection: the registers count export and import.
            exported, imported = max(0.0, pv - load), max(0.0, load - pv)
            self.produced_kwh += exported * seconds / 3600
            self.consumed_kwh += imported * seconds / 3600
            return exported, imported
        self.produced_kwh += pv * seconds / 3600
        self.consumed_kwh += load * seconds / 3600
        return pv, load


def _load_state() -> dict[str, dict[str, object]]:
    if STATE_FILE.exists():
        data: dict[str, dict[str, object]] = json.loads(STATE_FILE.read_text())
        return data
    return {}


def _save_state(devices: list[SimDevice]) -> None:
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    STATE_FILE.write_text(
        json.dumps(
            {
                d.device_id: {
                    "plant_id": d.plant_id,
                    "password": d.password,
                    "kind": d.kind,
                    "peak_kw": d.peak_kw,
                    "produced_kwh": round(d.produced_kwh, 6),
                    "consumed_kwh": round(d.consumed_kwh, 6),
                }
                for d in devices
            },
            indent=2,
        )
    )
    STATE_FILE.chmod(0o600)


async def provision(
    settings: IotSettings, ctx: IotContext, count: int, interval_s: int, plant_ids: list[int]
) -> list[SimDevice]:
    engine = db.create_engine(settings)
    maker = db.create_sessionmaker(engine)
    known = _load_state()
    devices: list[SimDevice] = []
    try:
        # Right after `make dev` seeds the demo community its plants are still
        # on their way through Kafka: wait for them a little.
        for _ in range(60):
            if plant_ids:
                break
            async with maker() as session:
                plants = registry.plants.c
                plant_ids = list(
                    await session.scalars(select(plants.plant_id).order_by(plants.plant_id))
                )
            if not plant_ids:
                await asyncio.sleep(0.5)
        async with maker() as session:
            live = {
                d.id: d.mqtt_username
                for d in await session.scalars(select(Device).where(Device.revoked_at.is_(None)))
            }
        if not plant_ids:
            raise SystemExit(
                "no plants known to the IoT service yet: register a plant in the CER service "
                "(make dev seeds a demo community) or pass --plant-id"
            )
        for i in range(count):
            plant_id = plant_ids[i % len(plant_ids)]
            device_id = f"sim-{plant_id}-{i}"
            saved = known.get(device_id)
            if saved and device_id in live and saved.get("plant_id") == plant_id:
                devices.append(
                    SimDevice(
                        device_id,
                        live[device_id],
                        plant_id,
                        str(saved["password"]),
                        str(saved["kind"]),
                        float(str(saved["peak_kw"])),
                        float(str(saved["produced_kwh"])),
                        float(str(saved["consumed_kwh"])),
                    )
                )
                continue
            async with maker() as session, session.begin():
                if device_id in live:
                    created = await service.rotate_credentials(session, ctx, SIMULATOR, device_id)
                else:
                    created = await service.register_device(
                        session,
                        ctx,
                        SIMULATOR,
                        DeviceCreate(
                            device_id=device_id,
                            plant_id=plant_id,
                            model="CerCollettiva simulator",
                            firmware="sim-1",
                            interval_s=interval_s,
                            measuring_point=MEASURING_POINTS[KINDS[i % len(KINDS)]],
                        ),
                    )
            kind = KINDS[i % len(KINDS)]
            devices.append(
                SimDevice(
                    device_id,
                    created.credentials.username,
                    plant_id,
                    created.credentials.password,
                    kind,
                    peak_kw=round(random.uniform(3, 8), 1),  # noqa: S311 - simulation
                    produced_kwh=round(random.uniform(100, 5000), 3),  # noqa: S311
                    consumed_kwh=round(random.uniform(100, 5000), 3),  # noqa: S311
                )
            )
    finally:
        await engine.dispose()
    _save_state(devices)
    return devices


async def run_device(
    settings: IotSettings,
    device: SimDevice,
    *,
    start: datetime,
    interval_s: int,
    speedup: float,
    readings: int | None,
    port: int,
    tls: ssl.SSLContext,
) -> int:
    root = f"energy/plant/{device.plant_id}/device/{device.device_id}"
    sent = 0
    async with aiomqtt.Client(
        settings.mqtt_host,
        port,
        username=device.username,
        password=device.password,
        identifier=f"{device.device_id}-{uuid.uuid4().hex[:6]}",
        tls_context=tls,
    ) as client:
        await client.subscribe(f"{root}/commands", qos=1)

        async def answer_commands() -> None:
            async for message in client.messages:
                try:
                    command = json.loads(bytes(message.payload))
                    ack = {"command_id": command["command_id"], "result": "OK", "detail": "sim"}
                except (ValueError, KeyError, TypeError):
                    continue
                await client.publish(f"{root}/acks", json.dumps(ack), qos=1)

        listener = asyncio.create_task(answer_commands())
        at = start
        try:
            while readings is None or sent < readings:
                at += timedelta(seconds=interval_s)
                pv, load = device.step(at, interval_s)
                body = {
                    "device_id": device.device_id,
                    "plant_id": device.plant_id,
                    "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "measurements": {
                        "energy_produced": round(device.produced_kwh, 4),
                        "energy_consumed": round(device.consumed_kwh, 4),
                        "power_produced": round(pv, 3),
                        "power_consumed": round(load, 3),
                        "voltage": round(230 + device.rng.gauss(0, 1.5), 1),
                        "frequency": round(50 + device.rng.gauss(0, 0.02), 2),
                    },
                }
                await client.publish(f"{root}/measurements", json.dumps(body), qos=1)
                sent += 1
                if sent % 10 == 1:
                    status = {"status": {"battery_level": 100, "signal_strength": -55}}
                    await client.publish(f"{root}/status", json.dumps(status), qos=1)
                await asyncio.sleep(interval_s / speedup)
        finally:
            listener.cancel()
    return sent


async def simulate(args: argparse.Namespace) -> None:
    # A development tool: it provisions with the broker's development admin
    # account unless CERC_IOT_ENVIRONMENT says otherwise (unset means production).
    os.environ.setdefault("CERC_IOT_ENVIRONMENT", "development")
    settings = IotSettings()
    ctx = IotContext(
        settings=settings,
        dynsec=DynSec(
            settings.mqtt_host,
            settings.mqtt_port,
            settings.mqtt_admin_username,
            settings.mqtt_admin_password,
        ),
        publish=CommandPublisher(settings),
    )
    devices = await provision(settings, ctx, args.count, args.interval, args.plant_id)
    speedup = args.speedup if args.duration else 1.0
    readings = int(args.duration * speedup / args.interval) if args.duration else None
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(seconds=(readings or 0) * args.interval)
    print(
        f"simulating {len(devices)} devices on plants {sorted({d.plant_id for d in devices})}: "
        f"every {args.interval}s simulated, x{speedup}, "
        + (f"{readings} readings each" if readings else "until stopped"),
        flush=True,
    )
    port = args.mqtt_port or mqtt_tls_port()
    tls = ssl.create_default_context(cafile=args.cafile or ensure_dev_pki().ca)
    try:
        counts = await asyncio.gather(
            *(
                run_device(
                    settings,
                    d,
                    start=start,
                    interval_s=args.interval,
                    speedup=speedup,
                    readings=readings,
                    port=port,
                    tls=tls,
                )
                for d in devices
            )
        )
        print(f"published {sum(counts)} readings", flush=True)
    finally:
        _save_state(devices)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=4, help="devices (default 4)")
    parser.add_argument("--interval", type=int, default=60, help="simulated seconds per reading")
    parser.add_argument("--speedup", type=float, default=1.0, help="simulated/real time")
    parser.add_argument("--duration", type=float, default=0, help="real seconds; 0: forever")
    parser.add_argument("--plant-id", type=int, action="append", default=[], help="repeatable")
    parser.add_argument("--mqtt-port", type=int, default=0, help="MQTT over TLS port")
    parser.add_argument("--cafile", default="", help="CA to trust (default: the development CA)")
    args = parser.parse_args(argv)
    if args.count < 1 or args.interval < 10 or args.speedup <= 0 or args.duration < 0:
        parser.error("count >= 1, interval >= 10, speedup > 0, duration >= 0")
    asyncio.run(simulate(args))


if __name__ == "__main__":
    main()
