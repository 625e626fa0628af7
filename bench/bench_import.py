"""Import of a month of distributor files for ``--pods`` PODs through the energy service's import
job (run: `uv run python bench/bench_import.py [--pods 1000] [--format csv] [--per-zip 100]`).

The issue's figure: 1,000 POD-months of quarter-hour files (about 3 million values) in under
60 s end to end. The files are the project's own layouts, made by the tests' builders
(services/energy/tests/meter_files.py): one monthly CSV per POD (``IT001E..._202501_immessa.csv``)
or one FlussoMisure XML per POD, zipped ``--per-zip`` to an upload. Each ZIP is queued as the
upload endpoint queues a large file (a ``MeterImportJob`` row) and loaded by the service's own
worker (``ImportJobs``: parse, validate the whole file, resolve the PODs in the registry read
model, write raw and quarter-hour series to InfluxDB, record the import and its curves).

Its own PostgreSQL database (migrated) and InfluxDB database with the service's retention
policies; the registry read model holds the PODs, fed through the kernel's handler. Timed from
the first job claimed to the last one done (HTTP upload of the bytes not included: the 202 path
stores the file and returns). Prints files/s, values/s and the total, with the machine; drops
its InfluxDB database at the end. Nothing asserts; a job that does not end DONE stops the bench.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "services" / "energy" / "tests"))
from cerc_shared.db import create_engine, create_sessionmaker  # noqa: E402
from cerc_shared.events import EventEnvelope  # noqa: E402
from cerc_shared.events.cer import MembershipStarted, PlantRegistered  # noqa: E402
from cerc_shared.testing import ports, prepare_database  # noqa: E402
from energy_service.imports.jobs import ImportJobs  # noqa: E402
from energy_service.imports.models import MeterImportJob  # noqa: E402
from energy_service.imports.repository import ImportJobRepository  # noqa: E402
from energy_service.models import registry  # noqa: E402
from energy_service.retention import (  # noqa: E402
    SETTLEMENT_POLICY,
    Retention,
    RetentionPlan,
    duration,
)
from energy_service.settings import EnergySettings  # noqa: E402
from energy_service.timeseries import InfluxTimeSeries  # noqa: E402
from machine import describe  # noqa: E402
from meter_files import csv_month, days_of, local_quarters, xml_month, zip_of  # noqa: E402

DATABASE = "cerc_bench_energy_import"
TOKEN = "cerc:cerc_influx_dev"  # noqa: S105 - development key (infra/influxdb.sh)
COMMUNITY, MANAGER = 880_001, 880_002
FIRST_PLANT = 880_000_000


def recent_month() -> tuple[int, int]:
    """The last whole month without a change of hour (raw readings are kept 13 months)."""
    year, month = date.today().year, date.today().month
    while True:
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        if month not in (3, 10):
            return year, month


YEAR, MONTH = recent_month()


def pod_of(plant: int) -> str:
    return f"IT001E{plant % 10**8:08d}"


def value(end: Any) -> Decimal:
    return Decimal(end.hour * 60 + end.minute) / 1000 + Decimal("0.001")


async def influxql(url: str, statement: str) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{url}/query",
            data={"q": statement},
            auth=tuple(TOKEN.split(":")),  # type: ignore[arg-type]
        )
        if answer.status_code != 200 or '"error"' in answer.text:
            raise SystemExit(f"InfluxDB refused {statement!r}: {answer.text}")


async def load_registry(settings: EnergySettings, plants: list[int]) -> None:
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    events: list[Any] = [
        MembershipStarted(
            membership_id=COMMUNITY, community_id=COMMUNITY, user_id=MANAGER, role="ADMIN",
            member_type="PRIVATE", body_type="NONE", valid_from=date(2024, 1, 1), valid_to=None,
        )
    ]  # fmt: skip
    for plant in plants:
        events.append(
            PlantRegistered(
                plant_id=plant, pod=pod_of(plant), name=f"Impianto {plant}",
                community_id=COMMUNITY, owner_user_id=MANAGER, plant_type="PROSUMER",
                nominal_power_kw="6.00", technology="PV", entry_into_service=date(2024, 6, 1),
                region="Lombardia", primary_substation="AC001E01234", market_zone="NORD",
                capital_grant_eur_per_kw="0", connection_voltage="BT",
                valid_from=date(2024, 1, 1), valid_to=None,
            )
        )  # fmt: skip
    async with sessionmaker() as session, session.begin():
        for event in events:
            await registry.apply(
                session, EventEnvelope.wrap(event, producer="cer", correlation_id=None)
            )
    await engine.dispose()


def uploads(plants: list[int], layout: str, per_zip: int) -> list[tuple[str, bytes, int]]:
    """(name, bytes, files) per upload."""
    out = []
    for first in range(0, len(plants), per_zip):
        chunk = plants[first : first + per_zip]
        files = {}
        for plant in chunk:
            if layout == "csv":
                name = f"{pod_of(plant)}_{YEAR}{MONTH:02d}_immessa.csv"
                files[name] = csv_month(YEAR, MONTH, value)
            else:
                name = f"{pod_of(plant)}_{YEAR}{MONTH:02d}.xml"
                files[name] = xml_month([(pod_of(plant), "Immessa")], YEAR, MONTH, value)
        out.append((f"month-{first // per_zip:04d}.zip", zip_of(files), len(chunk)))
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--format", choices=("csv", "xml"), default="csv")
    parser.add_argument("--per-zip", type=int, default=100, help="files in one upload (ZIP)")
    args = parser.parse_args()

    influx_url = f"http://127.0.0.1:{ports()['INFLUX_PORT']}"
    dsn = prepare_database("energy", DATABASE, ROOT / "services" / "energy")
    bucket = f"{DATABASE}/autogen"
    settings = EnergySettings(
        database_url=dsn, environment="test", influx_url=influx_url, influx_bucket=bucket
    )
    plants = [FIRST_PLANT + i for i in range(args.pods)]
    await influxql(influx_url, f'DROP DATABASE "{DATABASE}"')
    await influxql(influx_url, f'CREATE DATABASE "{DATABASE}"')
    # As the service sets its store up (main.py): raw readings and the ten-year quarter hours.
    store = InfluxTimeSeries(
        influx_url, TOKEN, "-", bucket,
        settlement_policy=SETTLEMENT_POLICY, raw_retention=duration(RetentionPlan().raw),
    )  # fmt: skip
    engine = create_engine(settings)
    try:
        await Retention(influx_url, TOKEN, bucket).apply(RetentionPlan())
        await load_registry(settings, plants)
        made = time.perf_counter()
        files = uploads(plants, args.format, args.per_zip)
        made = time.perf_counter() - made
        values = args.pods * sum(len(local_quarters(d)) for d in days_of(YEAR, MONTH))
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as session, session.begin():
            jobs = [
                await ImportJobRepository(session).add(
                    MeterImportJob(
                        community_id=COMMUNITY, uploaded_by=MANAGER, uploader_type="PRIVATE",
                        file_name=name, pod=None, direction=None, content=content,
                        status="QUEUED", attempts=0, values_written=0, errors=[],
                    )
                )
                for name, content, _ in files
            ]  # fmt: skip
            job_ids = [job.id for job in jobs]
        worker = ImportJobs(sessionmaker, store)
        began = time.perf_counter()
        while await worker.run_one():
            pass
        elapsed = time.perf_counter() - began
        async with sessionmaker() as session:
            repo = ImportJobRepository(session)
            for job_id in job_ids:
                job = await repo.get(job_id)
                if job is None or job.status != "DONE":
                    raise SystemExit(
                        f"job {job_id}: {job and job.status} {job and job.errors!r}: no figure"
                    )
                written = job.values_written
        megabytes = sum(len(content) for _, content, _ in files) / 2**20
    finally:
        await engine.dispose()
        await store.close()
        await influxql(influx_url, f'DROP DATABASE "{DATABASE}"')

    print(f"\n== import of {args.pods} POD-months ({YEAR}-{MONTH:02d}, {args.format}), "
          f"{len(files)} ZIP uploads of {args.per_zip} files ({megabytes:.2f} MiB) ==")  # fmt: skip
    print(f"machine: {describe()}")
    print(f"files made in {made:.1f} s (not timed); last job wrote {written} values")
    print(f"total {elapsed:.1f} s: {args.pods / elapsed:.1f} files/s, "
          f"{values / elapsed:,.0f} values/s ({values:,} values)")  # fmt: skip
    print("target: 1,000 POD-months < 60 s (issue 13)")


if __name__ == "__main__":
    asyncio.run(main())
