"""The development simulator (scripts/simulator.py, `make dev`): its meters
follow the sun of the demo community's region and the Italian clock, so the
demo's curves look like a community's and the forecast is measured on data
with a sunset (bench/bench_forecast.py)."""

from __future__ import annotations

import importlib.util
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
from cerc_profiles.pv import pv_kwh_per_kw
from cerc_shared.clock import ITALY

STEP_S = 60


@pytest.fixture(scope="module")
def sim() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "scripts" / "simulator.py"
    spec = importlib.util.spec_from_file_location("simulator", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["simulator"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _day(sim: ModuleType, kind: str, day: datetime) -> list[tuple[datetime, float, float]]:
    """(local time, first kW, second kW) of every minute of an Italian day."""
    device = sim.SimDevice("d", "d", 1, "x", kind, 5.0, rng=random.Random(7))
    at, end, out = day, day + timedelta(days=1), []
    while at < end:
        at = (at.astimezone(sim.UTC) + timedelta(seconds=STEP_S)).astimezone(ITALY)
        first, second = device.step(at, STEP_S)
        out.append((at, first, second))
    return out


@pytest.mark.parametrize(
    ("day", "sunrise", "sunset"),
    [
        # Bergamo: the winter solstice's sun is up about 08:00-16:40, midsummer's 05:40-21:10.
        (datetime(2025, 12, 21, tzinfo=ITALY), 8, 17),
        (datetime(2025, 6, 21, tzinfo=ITALY), 5, 22),
    ],
)
def test_panels_produce_only_while_the_sun_is_up(
    sim: ModuleType, day: datetime, sunrise: int, sunset: int
) -> None:
    minutes = _day(sim, "pv", day)
    producing = [at for at, pv, _ in minutes if pv > 0]
    assert producing, "a clear-sky day with no production"
    assert min(producing).hour >= sunrise - 1
    assert max(producing).hour <= sunset
    noon = [pv for at, pv, _ in minutes if at.hour == 12]
    night = [pv for at, pv, _ in minutes if at.hour in (2, 23)]
    assert min(noon) > 0 and max(night) == 0


def test_a_days_energy_is_the_clear_sky_times_the_clouds(sim: ModuleType) -> None:
    day = datetime(2025, 6, 21, tzinfo=ITALY)
    produced = sum(pv for _, pv, _ in _day(sim, "pv", day)) * STEP_S / 3600
    clear = 5.0 * sum(float(h.kwh) for h in pv_kwh_per_kw(*sim.SITE, day, day + timedelta(days=1)))
    # Clouds drift between 0.3 and 1: never above the clear sky, never below 0.3 of it.
    assert 0.3 * clear <= produced <= clear


def test_a_households_evening_peak_is_on_the_italian_clock(sim: ModuleType) -> None:
    minutes = _day(sim, "home", datetime(2025, 12, 21, tzinfo=ITALY))
    evening = sum(load for at, _, load in minutes if at.hour == 19)
    night = sum(load for at, _, load in minutes if at.hour == 3)
    assert evening > 3 * night


def test_a_grid_connection_meter_exports_or_imports_never_both(sim: ModuleType) -> None:
    minutes = _day(sim, "grid", datetime(2025, 6, 21, tzinfo=ITALY))
    assert all(exported == 0 or imported == 0 for _, exported, imported in minutes)
    assert any(exported > 0 for _, exported, _ in minutes), "a June day with nothing exported"
    assert any(imported > 0 for _, _, imported in minutes)
