"""Benchmark of the CACER settlement (run: `uv run python bench/bench_settle.py`, or `make bench`).

1. In process: 1,000 points × one year of hourly readings (8.76 million), `settle()` timed and its
   peak memory traced, beside a bare numpy floor over the same arrays (sum per substation-hour,
   then min), with the ratio between the two.
2. End to end: `cer settle` on a JSON file of one month of 15-minute readings for 200 points.
Prints figures only; nothing here asserts on time.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from cacer import Member, Period, Plant, Point, Prices, Readings, Scenario, Shares, settle
from cacer.hours import MARKET_TZ, HourGrid
from cacer.parameters import MarketZone, Technology
from cacer.scenario import ZONES
from numpy.typing import NDArray

SEED = 20250601
TRASE_2025 = Decimal("10.57")  # 2025 is not in the TRASe table; the bench passes a value


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        ram = f"{mem_kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, StopIteration):
        ram = "RAM unknown"
    return (
        f"{model}; {os.cpu_count()} cores; {ram}; "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )


def community(
    points: int, substations: int, plant_share: float
) -> tuple[list[Point], list[Member]]:
    rng = np.random.default_rng(SEED)
    regions = ["Lombardia", "Toscana", "Puglia", "Veneto"]
    zones = [MarketZone.NORD, MarketZone.CNOR, MarketZone.SUD, MarketZone.NORD]
    members = [
        Member(f"m{i}", enterprise=bool(i % 7 == 0), public_body=bool(i % 11 == 0))
        for i in range(points)
    ]
    out = []
    for i in range(points):
        sub = i % substations
        area = sub % len(regions)
        plant = None
        if rng.random() < plant_share:
            power = Decimal(int(rng.choice([6, 20, 50, 150, 400, 800, 1200])))
            plant = Plant(
                power_kw=power,
                technology=Technology.PV if rng.random() < 0.9 else Technology.WIND,
                region=regions[area],
                entry_into_service=date(2019, 1, 1) + timedelta(days=int(rng.integers(0, 2300))),
                capital_grant_eur_per_kw=Decimal(int(rng.choice([0, 0, 0, 300, 600]))),
            )
        out.append(Point(f"IT001E{i:08d}", f"m{i}", f"AC001E{sub:05d}", zones[area], plant))
    return out, members


def hourly_scenario(points: int = 1000) -> Scenario:
    start, end = date(2025, 1, 1), date(2026, 1, 1)
    grid = HourGrid.for_period(start, end)
    pts, members = community(points, substations=40, plant_share=0.3)
    rng = np.random.default_rng(SEED)
    hours = grid.starts_utc()
    local_hour = ((hours // 3600) + 1) % 24  # close enough to shape a sun curve
    sun = np.clip(np.sin((local_hour - 6) / 12 * np.pi), 0, None)
    n = points * grid.count
    point = np.repeat(np.arange(points, dtype=np.int64), grid.count)
    power = np.array([float(p.plant.power_kw) if p.plant else 0.0 for p in pts])
    noise = rng.random(n)
    fed = np.tile(sun, points) * power[point] * 0.7 * noise
    withdrawn = rng.gamma(2.0, 0.8, n) * (1 + 2 * (power[point] == 0))
    readings = Readings(
        point=point,
        start_utc=np.tile(hours, points),
        minutes=np.full(n, 60, dtype=np.int64),
        fed_in_kwh=np.round(fed, 3),
        withdrawn_kwh=np.round(withdrawn, 3),
    )
    zone = np.repeat(np.arange(len(ZONES), dtype=np.int64), grid.count)
    prices = Prices(
        zone=zone,
        hour_utc=np.tile(hours, len(ZONES)),
        eur_mwh=np.round(rng.normal(110, 35, len(zone)), 2),
    )
    return Scenario(
        period=Period(start, end),
        members=tuple(members),
        points=tuple(pts),
        prices=prices,
        readings=readings,
        distribution=Shares(Decimal("0.45"), Decimal("0.30"), Decimal("0.25")),
        trase_eur_mwh=TRASE_2025,
    )


def floor_pass(s: Scenario) -> NDArray[np.int64]:
    """The least any settlement must do: sum to substation-hours, then the min."""
    grid = HourGrid.for_period(s.period.start, s.period.end)
    codes = {c: k for k, c in enumerate(dict.fromkeys(p.substation for p in s.points))}
    sub_of_point = np.array([codes[p.substation] for p in s.points], dtype=np.int64)
    r = s.readings
    key = sub_of_point[r.point] * grid.count + (r.start_utc - grid.start_utc) // 3600
    size = len(codes) * grid.count
    fed = np.bincount(key, weights=r.fed_in_kwh, minlength=size)
    withdrawn = np.bincount(key, weights=r.withdrawn_kwh, minlength=size)
    shared: NDArray[np.int64] = np.rint(np.minimum(fed, withdrawn) * 1000).astype(np.int64)
    return shared


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def traced_peak(fn: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def month_json(points: int) -> dict[str, Any]:
    start, end = date(2025, 6, 1), date(2025, 7, 1)
    grid = HourGrid.for_period(start, end)
    pts, members = community(points, substations=10, plant_share=0.3)
    rng = np.random.default_rng(SEED)
    starts = [
        datetime.fromtimestamp(grid.start_utc + 900 * q, MARKET_TZ).isoformat()
        for q in range(grid.count * 4)
    ]
    sun = np.clip(np.sin(((np.arange(len(starts)) / 4 + 2) % 24 - 6) / 12 * np.pi), 0, None)
    readings = []
    for p in pts:
        power = float(p.plant.power_kw) if p.plant else 0.0
        fed = np.round(sun * power * 0.7 / 4 * rng.random(len(starts)), 3).tolist()
        wd = np.round(rng.gamma(2.0, 0.2, len(starts)), 3).tolist()
        readings += [
            {"pod": p.pod, "start": t, "minutes": 15, "fed_in_kwh": f, "withdrawn_kwh": w}
            for t, f, w in zip(starts, fed, wd, strict=True)
        ]
    hours = [datetime.fromtimestamp(int(t), MARKET_TZ).isoformat() for t in grid.starts_utc()]
    prices = [
        {"zone": z.value, "hour": h, "eur_mwh": round(float(rng.normal(110, 35)), 2)}
        for z in sorted({p.zone for p in pts})
        for h in hours
    ]

    def plant_json(pl: Plant | None) -> dict[str, Any] | None:
        if pl is None:
            return None
        return {
            "power_kw": int(pl.power_kw),
            "technology": pl.technology.value,
            "region": pl.region,
            "entry_into_service": pl.entry_into_service.isoformat(),
            "capital_grant_eur_per_kw": int(pl.capital_grant_eur_per_kw),
        }

    return {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "trase_eur_mwh": float(TRASE_2025),
        "members": [
            {"id": m.id, "enterprise": m.enterprise, "public_body": m.public_body} for m in members
        ],
        "points": [
            {
                "pod": p.pod,
                "member": p.member,
                "substation": p.substation,
                "zone": p.zone.value,
                **({"plant": plant_json(p.plant)} if p.plant else {}),
            }
            for p in pts
        ],
        "prices": prices,
        "readings": readings,
        "distribution": {"producers": 0.45, "consumers": 0.30, "community": 0.25},
    }


def end_to_end() -> None:
    cer = shutil.which("cer") or str(Path(sys.executable).with_name("cer"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.json"
        t0 = time.perf_counter()
        # Generated by a child so that this process stays small: a forked child's max RSS
        # counts the parent's pages, and the figure must be the CLI's own.
        subprocess.run([sys.executable, __file__, "--write-month", str(path)], check=True)
        size = path.stat().st_size
        print(
            f"\n[end to end] 200 points, one month (June 2025) of 15-minute readings: "
            f"{200 * 30 * 96:,} readings, {size / 2**20:.0f} MiB JSON "
            f"(generated in {time.perf_counter() - t0:.1f} s)"
        )
        t0 = time.perf_counter()
        done = subprocess.run(
            [cer, "settle", "--input", str(path)], capture_output=True, check=False
        )
        cli_s = time.perf_counter() - t0
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            print(f"  cer settle failed ({done.returncode}): {done.stderr.decode()[:500]}")
            raise SystemExit(1)
        total = json.loads(done.stdout)["total_eur"]
        print(
            f"  cer settle --input file: {cli_s:.2f} s wall, max RSS "
            f"{usage.ru_maxrss / 1024:.0f} MiB, total {total:,.2f} EUR"
        )


def in_process() -> None:
    t0 = time.perf_counter()
    scenario = hourly_scenario()
    n = len(scenario.readings)
    plants = sum(1 for p in scenario.points if p.plant)
    print(
        f"\n[in process] {len(scenario.points)} points ({plants} with a plant), {n:,} hourly"
        f" readings (built in {time.perf_counter() - t0:.2f} s)"
    )
    floor_s, _ = timed(lambda: floor_pass(scenario), repeat=3)
    settle_s, settlement = timed(lambda: settle(scenario), repeat=3)
    floor_peak = traced_peak(lambda: floor_pass(scenario))
    settle_peak = traced_peak(lambda: settle(scenario))
    print(
        f"  numpy floor (sum per substation-hour, min): {floor_s:.3f} s, "
        f"peak {floor_peak / 2**20:.0f} MiB (tracemalloc)"
    )
    print(
        f"  settle(), validation included:              {settle_s:.3f} s, "
        f"peak {settle_peak / 2**20:.0f} MiB (tracemalloc)"
    )
    print(f"  ratio settle / floor: {settle_s / floor_s:.1f}x  (target: < 2 s and within 20x)")
    print(
        f"  total {settlement.total_cents / 100:,.2f} EUR, "
        f"shared {settlement.shared_energy_wh / 1e6:,.1f} MWh"
    )
    maxrss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  process max RSS (readings arrays included): {maxrss_mib:.0f} MiB")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--write-month":
        Path(sys.argv[2]).write_text(json.dumps(month_json(points=200)))
        return
    print(f"machine: {machine()}")
    end_to_end()
    in_process()


if __name__ == "__main__":
    main()
