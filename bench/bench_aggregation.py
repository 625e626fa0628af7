"""A community's aggregate by day over a long span, the way GET /api/energy/aggregations/ computes
it (run: `uv run python bench/bench_aggregation.py [--plants 100] [--days 365]`).

Writes ``--plants`` prosumers x ``--days`` of hourly grid-exchange readings (fed-in by day,
withdrawn by night) into an InfluxDB database of its own, then times, sequentially, the three
stages of the endpoint on the whole span by day with shared energy: the store's quarter-hour
sums (InfluxQL), settle() (source per plant-hour, exchange), aggregate() (buckets, coverage,
shared energy by the rules engine). Prints p50/p95 of each stage and of the whole, with the
machine; drops its database at the end. Nothing asserts.

The issue's figure is 1,000 plants x one year (target p95 < 500 ms); on a shared InfluxDB kept
under 6 GB the default is a tenth of it, and the figure printed says which size it is.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from energy_service.aggregation import aggregate  # noqa: E402
from energy_service.quantities import QUARTER_HOUR_S, quarters_of, settle  # noqa: E402
from energy_service.timeseries import EnergyPoint, InfluxTimeSeries, SeriesQuery  # noqa: E402
from machine import describe  # noqa: E402

USER, PASSWORD = "cerc", "cerc_influx_dev"  # development key (infra/influxdb.sh)
DATABASE = "cerc_bench_energy_aggregation"
START = datetime(2024, 12, 31, 23, 0, tzinfo=UTC)  # 1 January 2025, 00:00 in Rome
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Stay:
    plant_id: int
    pod: str
    primary_substation: str | None

    def active_on(self, day: date) -> bool:
        return True


def ports() -> dict[str, str]:
    values = {}
    for line in (ROOT / "infra" / "ports.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = os.environ.get(key.strip(), value.strip())
    return values


async def influxql(url: str, statement: str) -> None:
    async with httpx.AsyncClient(timeout=120) as http:
        response = await http.post(f"{url}/query", data={"q": statement}, auth=(USER, PASSWORD))
        response.raise_for_status()
        if '"error"' in response.text:
            raise SystemExit(f"InfluxDB refused {statement!r}: {response.text}")


def percentiles(samples: list[float]) -> str:
    if len(samples) < 2:
        raise SystemExit("too few samples for percentiles")
    cuts = statistics.quantiles(samples, n=20)
    return f"p50 {statistics.median(samples) * 1000:8.1f} ms   p95 {cuts[18] * 1000:8.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plants", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    url = f"http://127.0.0.1:{ports()['INFLUX_PORT']}"
    await influxql(url, f'DROP DATABASE "{DATABASE}"')
    await influxql(url, f'CREATE DATABASE "{DATABASE}"')
    store = InfluxTimeSeries(url, f"{USER}:{PASSWORD}", "-", f"{DATABASE}/autogen", timeout_s=600)
    try:
        stays = [Stay(p, f"IT001E{p:08d}", f"AC{p % 3}") for p in range(1, args.plants + 1)]
        began = time.perf_counter()
        written = 0
        for stay in stays:
            points = []
            for h in range(args.days * 24):
                end = START + (h + 1) * HOUR
                daylight = 8 <= (h % 24) <= 16
                values = (
                    {"energy_fed_in_kwh": 1.0 + stay.plant_id % 5 * 0.1}
                    if daylight
                    else {"energy_withdrawn_kwh": 0.4}
                )
                points.append(EnergyPoint(stay.plant_id, "meter", "iot", end, values))
            await store.write(points)
            written += len(points)
        write_s = time.perf_counter() - began
        print(describe())
        print(
            f"{args.plants} plants x {args.days} days of hourly readings ({written:,} points, "
            f"written in {write_s:.1f} s); a community's aggregate by day with shared energy, "
            f"{args.runs} runs"
        )
        first, last = START, START + timedelta(days=args.days)
        stages: dict[str, list[float]] = {"sums": [], "settle": [], "aggregate": [], "total": []}
        buckets = 0
        for _ in range(args.runs):
            t0 = time.perf_counter()
            sums = await store.energy_sums(
                SeriesQuery(start=first, end=last, plant_ids=[s.plant_id for s in stays]),
                timedelta(seconds=QUARTER_HOUR_S),
            )
            t1 = time.perf_counter()
            settled = settle(quarters_of(sums), 3600)
            t2 = time.perf_counter()
            result = aggregate(stays, settled, first, last, "day", with_shared=True)
            t3 = time.perf_counter()
            for name, value in (
                ("sums", t1 - t0), ("settle", t2 - t1), ("aggregate", t3 - t2), ("total", t3 - t0)
            ):  # fmt: skip
                stages[name].append(value)
            buckets = len(result)
            if not result or result[0].shared_wh is None:
                raise SystemExit("the aggregate came back without shared energy")
        print(f"  ({len(sums):,} quarter-hour sums a run, {buckets} day buckets)")
        for name, samples in stages.items():
            print(f"  {name:<10} {percentiles(samples)}")
    finally:
        await store.close()
        await influxql(url, f'DROP DATABASE "{DATABASE}"')


if __name__ == "__main__":
    asyncio.run(main())
