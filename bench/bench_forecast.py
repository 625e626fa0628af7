"""Forecast error on held-out simulator history (run: `uv run python bench/bench_forecast.py`).

The simulator's devices (scripts/simulator.py: PV generators, household loads, prosumers' grid
meters) are run for four weeks of one-minute steps; the energy service's forecast
(energy_service.forecast, the function GET /api/energy/predictions/ calls) is fed those four
weeks as hourly settled quantities and predicts the next 48 hours, which are then simulated and
compared. Repeated over several seeds and start dates. Printed: MAPE of the community's PV
(daylight hours: actual at least 5 % of the window's peak), consumption (every hour) and shared
energy (hours with at least 0.05 kWh shared), beside a naive forecast (each hour as the same
hour the day before) so the figure has a yardstick; and the energy-weighted error (WAPE,
sum |forecast - actual| / sum actual over all 48 hours), which near-empty dawn hours cannot
dominate. Nothing asserts; no servers needed.

Read the PV figures knowing the simulator: its panels give pvlib's clear sky at
Bergamo (the demo community's town) times a cloud factor drifting minute by minute between 0.3
and 1 (hours apart are nearly independent; no weather persists to the next day), and the
forecast's site is the region's chief town (Milan), as for a real plant whose coordinates the
energy service is not given. The bench still prints the share of simulated PV after pvlib's
sunset at the forecast's site (0 unless the two sites' sunsets differ) and the error over the
hours the sun is up.
"""

from __future__ import annotations

import importlib.util
import random
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from energy_service.forecast import ForecastPlant, clear_sky_per_kw, forecast
from energy_service.quantities import IntervalQuantities

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe

HOUR = timedelta(hours=1)
STEP_S = 60
HISTORY = timedelta(weeks=4)
HORIZON = 48
# (kind, peak kW) of each simulated plant: the demo's mix, a little larger.
FLEET = [("pv", 4.0), ("pv", 6.0), ("pv", 10.0), ("home", 0.0), ("home", 0.0), ("home", 0.0),
         ("home", 0.0), ("grid", 3.0), ("grid", 5.0)]  # fmt: skip
STARTS = [datetime(2025, 5, 5, tzinfo=UTC), datetime(2025, 6, 2, tzinfo=UTC),
          datetime(2025, 9, 1, tzinfo=UTC)]  # fmt: skip
SEEDS = list(range(1, 11))  # 30 independent runs: one run's clouds swing the MAPE by points


def _simulator() -> Any:
    path = Path(__file__).resolve().parents[1] / "scripts" / "simulator.py"
    spec = importlib.util.spec_from_file_location("simulator", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load the simulator from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["simulator"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def simulate(sim: Any, start: datetime, hours: int, seed: int) -> list[IntervalQuantities]:
    """Hourly quantities of each plant (its id is its index), as the service would settle them."""
    devices = [
        # Seeded by the start too: the simulator ignores the date, so the same seed at another
        # start would replay the same clouds and the runs would not be independent.
        sim.SimDevice(
            f"d{i}", f"d{i}", i, "x", kind, peak, rng=random.Random(f"{seed}-{start:%Y-%m-%d}-{i}")
        )
        for i, (kind, peak) in enumerate(FLEET)
    ]
    sums: dict[tuple[int, datetime], list[float]] = defaultdict(lambda: [0.0, 0.0])
    at = start
    for _ in range(hours * 3600 // STEP_S):
        at += timedelta(seconds=STEP_S)
        hour = start + (at - start - timedelta(seconds=1)) // HOUR * HOUR
        for device in devices:
            first, second = device.step(at, STEP_S)
            cell = sums[(device.plant_id, hour)]
            cell[0] += first * STEP_S / 3600
            cell[1] += second * STEP_S / 3600
    out = []
    for (plant, hour), (first, second) in sorted(sums.items()):
        kind = FLEET[plant][0]
        if kind == "grid":  # export and import at the connection
            out.append(IntervalQuantities(plant, hour, "iot", 0.0, 0.0, first, second, "measured"))
        else:  # a generator or a load: the exchange derived, as quantities.py does
            fed, taken = max(0.0, first - second), max(0.0, second - first)
            out.append(IntervalQuantities(plant, hour, "iot", first, second, fed, taken, "derived"))
    return out


def plants() -> list[ForecastPlant]:
    kinds = {"pv": ("PRODUCER", "PV"), "home": ("CONSUMER", None), "grid": ("PROSUMER", "PV")}
    return [
        ForecastPlant(i, kinds[kind][0], kinds[kind][1], peak or None, "Lombardia", "S1")
        for i, (kind, peak) in enumerate(FLEET)
    ]


def community(items: list[IntervalQuantities], start: datetime) -> dict[str, list[float]]:
    """Per hour of the horizon: PV, consumption and shared energy of the whole community."""
    pv, load, fed, taken = ([0.0] * HORIZON for _ in range(4))
    for item in items:
        index = (item.start - start) // HOUR
        if not 0 <= index < HORIZON:
            continue
        kind = FLEET[item.plant_id][0]
        # A grid meter sees net flows only: its PV and load are unknown, its exchange is not.
        pv[index] += item.produced_kwh if kind == "pv" else 0.0
        load[index] += item.consumed_kwh if kind == "home" else 0.0
        fed[index] += item.fed_in_kwh
        taken[index] += item.withdrawn_kwh
    shared = [min(f, t) for f, t in zip(fed, taken, strict=True)]
    return {"pv": pv, "consumption": load, "shared": shared}


def mape(actual: list[float], predicted: list[float], floor: float) -> tuple[float, int]:
    pairs = [(a, p) for a, p in zip(actual, predicted, strict=True) if a >= floor]
    if not pairs:
        raise SystemExit("no hour above the floor: the MAPE would be undefined")
    return 100 * sum(abs(p - a) / a for a, p in pairs) / len(pairs), len(pairs)


def wape(actual: list[float], predicted: list[float]) -> float:
    total = sum(actual)
    if total <= 0:
        raise SystemExit("nothing actual over the horizon: the WAPE would be undefined")
    return 100 * sum(abs(p - a) for a, p in zip(actual, predicted, strict=True)) / total


def main() -> None:
    sim = _simulator()
    errors: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    chosen: dict[str, int] = defaultdict(int)
    after_sunset: list[float] = []
    took = []
    for start in STARTS:
        for seed in SEEDS:
            items = simulate(sim, start, int(HISTORY / HOUR) + HORIZON, seed)
            now = start + HISTORY
            history = [i for i in items if i.start < now]
            held_out = [i for i in items if i.start >= now]
            began = time.perf_counter()
            result = forecast(plants(), history, now, hours=HORIZON)
            took.append(time.perf_counter() - began)
            predicted_plants = {p.plant_id: p for p in result.plants}
            predicted = {
                "pv": [
                    sum(
                        predicted_plants[i].pv_kwh[h] for i, (k, _) in enumerate(FLEET) if k == "pv"
                    )
                    for h in range(HORIZON)
                ],
                "consumption": [
                    sum(
                        predicted_plants[i].consumption_kwh[h]
                        for i, (k, _) in enumerate(FLEET)
                        if k == "home"
                    )
                    for h in range(HORIZON)
                ],
                "shared": [h.shared_kwh for h in result.hours],
            }
            actual = community(held_out, now)
            # The yardstick: each hour as the same hour the day before the horizon.
            yesterday = community(history, now - timedelta(days=1))
            naive = {k: v[:24] * 2 for k, v in yesterday.items()}
            floors = {"pv": 0.05 * max(actual["pv"]), "consumption": 0.0, "shared": 0.05}
            sky = clear_sky_per_kw("Lombardia", now, now + HORIZON * HOUR)
            lit = [i for i, kwh in enumerate(sky) if kwh > 0]
            dark = [i for i, kwh in enumerate(sky) if kwh <= 0]
            after_sunset.append(100 * sum(actual["pv"][i] for i in dark) / sum(actual["pv"]))
            for row, name, hours in (
                ("pv", "pv", range(HORIZON)),
                ("pv, sun up", "pv", lit),
                ("consumption", "consumption", range(HORIZON)),
                ("shared", "shared", range(HORIZON)),
                ("shared, sun up", "shared", lit),
            ):
                floor = floors[name] or 1e-9
                real = [actual[name][i] for i in hours]
                ours = [predicted[name][i] for i in hours]
                yardstick = [naive[name][i] for i in hours]
                errors[row].append(
                    (mape(real, ours, floor)[0], mape(real, yardstick, floor)[0],
                     wape(real, ours), wape(real, yardstick))
                )  # fmt: skip
            for plant in result.plants:
                if (
                    plant.pv_half_life_days is not None
                    or plant.performance_ratio_basis == "history"
                ):
                    chosen[f"PV half-life {plant.pv_half_life_days or 'none'}"] += 1
                if plant.consumption_model is not None:
                    weekday, half_life = plant.consumption_model
                    kind = "same weekday" if weekday else "any day"
                    chosen[f"consumption {kind}, half-life {half_life or 'none'}"] += 1
    print(f"machine: {describe()}")
    print(
        f"forecast of {len(FLEET)} simulated plants, 4 weeks of history, 48 h held out, "
        f"{len(STARTS)} start dates x {len(SEEDS)} seeds; mean over the runs, in %"
    )
    print(
        "  MAPE: hours with actual PV >= 5 % of the window's peak, every consumption hour, "
        "shared >= 0.05 kWh"
    )
    print("  WAPE: sum |forecast - actual| / sum actual over the same 48 hours")
    print("  sun up: the hours pvlib's clear sky at the site is above 0")
    print(
        f"  {'':15s} {'MAPE ours':>10s} {'(worst)':>8s} {'naive':>7s}   {'WAPE ours':>10s} "
        f"{'naive':>7s}"
    )
    for row, runs in errors.items():
        mean = [sum(r[k] for r in runs) / len(runs) for k in range(4)]
        worst = max(r[0] for r in runs)
        print(
            f"  {row:15s} {mean[0]:10.1f} {worst:8.1f} {mean[1]:7.1f}   {mean[2]:10.1f} "
            f"{mean[3]:7.1f}"
        )
    print(
        f"  simulated PV after pvlib's sunset: {sum(after_sunset) / len(after_sunset):.1f} % of "
        f"the held-out PV energy on average (up to {max(after_sunset):.1f} %), forecast 0 by design"
    )
    print(f"  models chosen on the validation days: {dict(sorted(chosen.items()))}")
    print(f"  forecast() time: median {sorted(took)[len(took) // 2] * 1000:.0f} ms per run")


if __name__ == "__main__":
    main()
