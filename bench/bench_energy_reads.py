"""Benchmark of the energy service's dashboard reads at the time-series store
(run: `uv run python bench/bench_energy_reads.py`).

The reads a dashboard makes (a plant's day by hour, a community's month by
day) cost one energy-sum query each: quarter-hour sums per plant and source,
from which hours, days and the exchange are settled in Python. This bench
writes its own data into its own InfluxDB database (``--plants`` plants, a
month of quarter hours, produced and consumed from a device and fed-in/
withdrawn from a distributor file) and times, with ``--clients`` concurrent
callers:

* ``store``: the service's ``InfluxTimeSeries.energy_sums`` (InfluxQL);
* ``flux``: the same sums as the Flux window query it used before, through
  the client library, for comparison.

for a plant's day and for every plant's month. Prints p50/p95 and queries per
second; never asserts. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from energy_service.timeseries import EnergyPoint, InfluxTimeSeries, SeriesQuery  # noqa: E402
from machine import describe  # noqa: E402

USER, PASSWORD = "cerc", "cerc_influx_dev"  # development key (infra/influxdb.sh)
DATABASE = "cerc_bench_energy_reads"
MONTH = datetime(2025, 5, 31, 22, 0, tzinfo=UTC)  # 1 June 2025, 00:00 in Rome
QUARTER = timedelta(minutes=15)


def ports() -> dict[str, str]:
    values = {}
    for line in (ROOT / "infra" / "ports.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = os.environ.get(key.strip(), value.strip())
    return values


def flux_sums(bucket: str, query: SeriesQuery, every: timedelta) -> str:
    ids = ", ".join(f'"{p}"' for p in query.plant_ids or [])
    start = (query.start + timedelta(microseconds=0)).isoformat().replace("+00:00", "Z")
    stop = query.end.isoformat().replace("+00:00", "Z")
    return (
        f'from(bucket: "{bucket}") |> range(start: {start}, stop: {stop})'
        ' |> filter(fn: (r) => r._measurement == "energy_data")'
        f" |> filter(fn: (r) => contains(value: r.plant_id, set: [{ids}]))"
        ' |> filter(fn: (r) => r._field == "energy_produced" or r._field == "energy_consumed"'
        ' or r._field == "energy_fed_in" or r._field == "energy_withdrawn")'
        " |> timeShift(duration: -1ns)"
        ' |> group(columns: ["plant_id", "source", "_field"])'
        f" |> aggregateWindow(every: {int(every.total_seconds())}s, fn: sum,"
        ' createEmpty: false, timeSrc: "_start")'
    )


async def timed(name: str, calls: int, clients: int, call: Callable[[], Awaitable[int]]) -> None:
    latencies: list[float] = []
    rows = 0
    queue = list(range(calls))

    async def worker() -> None:
        nonlocal rows
        while queue:
            queue.pop()
            began = time.perf_counter()
            rows = await call()
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    wall = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"  {name:<28} {calls / wall:8.1f} q/s   p50 {cuts[49] * 1000:7.1f} ms"
        f"   p95 {cuts[94] * 1000:7.1f} ms   ({rows} sums a query)",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plants", type=int, default=10)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    url = f"http://127.0.0.1:{ports()['INFLUX_PORT']}"
    for statement in (f'DROP DATABASE "{DATABASE}"', f'CREATE DATABASE "{DATABASE}"'):
        async with httpx.AsyncClient() as http:
            response = await http.post(f"{url}/query", data={"q": statement}, auth=(USER, PASSWORD))
            response.raise_for_status()
    store = InfluxTimeSeries(url, f"{USER}:{PASSWORD}", "-", f"{DATABASE}/autogen", timeout_s=300)
    try:
        points = []
        for plant in range(1, args.plants + 1):
            for q in range(30 * 96):
                end = MONTH + QUARTER * (q + 1)
                points.append(
                    EnergyPoint(plant, "m1", "iot", end,
                                {"energy_produced_kwh": 0.3, "energy_consumed_kwh": 0.2})
                )  # fmt: skip
                points.append(
                    EnergyPoint(plant, "distributor", "official", end,
                                {"energy_fed_in_kwh": 0.1, "energy_withdrawn_kwh": 0.05})
                )  # fmt: skip
        for start in range(0, len(points), 20_000):
            await store.write(points[start : start + 20_000])
        print(describe())
        print(f"{args.plants} plants x a month of quarter hours, {len(points)} points; "
              f"{args.clients} clients, {args.calls} queries each line")  # fmt: skip
        day = SeriesQuery(start=MONTH + timedelta(days=14), end=MONTH + timedelta(days=15),
                          plant_ids=[1])  # fmt: skip
        month = SeriesQuery(start=MONTH, end=MONTH + timedelta(days=30),
                            plant_ids=list(range(1, args.plants + 1)))  # fmt: skip
        query_api = store._client.query_api()

        async def flux(query: SeriesQuery) -> int:
            tables = await query_api.query(flux_sums(store.bucket, query, QUARTER), org="-")
            return sum(len(t.records) for t in tables)

        for label, query, calls in (
            ("a plant's day", day, args.calls),
            ("every plant's month", month, max(5, args.calls // 20)),
        ):
            print(label)

            async def by_store(q: SeriesQuery = query) -> int:
                return len(await store.energy_sums(q, QUARTER))

            async def by_flux(q: SeriesQuery = query) -> int:
                return await flux(q)

            await timed("store (InfluxQL)", calls, args.clients, by_store)
            await timed("before (Flux, client)", calls, args.clients, by_flux)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
