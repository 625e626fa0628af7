"""Cumulative registers to interval energy: hand-computed cases (no servers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from iot_service.counters import RegisterState, Step, advance

T0 = datetime(2025, 9, 4, 10, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(readings: list[tuple[int, float]]) -> list[Step]:
    state: RegisterState | None = None
    steps = []
    for minute, kwh in readings:
        step = advance(state, at(minute), kwh)
        state = step.state
        steps.append(step)
    return steps


def test_steady_counting_gives_the_differences() -> None:
    steps = run([(0, 100.0), (15, 100.8), (30, 101.75), (45, 101.75)])
    assert [s.outcome for s in steps] == ["baseline", "normal", "normal", "normal"]
    assert [s.energy_kwh for s in steps] == [None, 0.8, 0.95, 0.0]
    assert steps[2].since == at(15)


def test_a_gap_puts_the_whole_gap_into_the_next_reading() -> None:
    # 10:15 to 11:30 lost: the register kept counting 3.6 kWh meanwhile.
    steps = run([(0, 50.0), (15, 50.5), (90, 54.1), (105, 54.3)])
    assert steps[2].outcome == "normal"
    assert steps[2].energy_kwh == pytest.approx(3.6)
    assert steps[2].since == at(15)  # the reading covers 75 minutes
    assert steps[3].energy_kwh == pytest.approx(0.2)


def test_a_reset_counts_the_new_register_from_zero() -> None:
    # Rebooted between 10:15 and 10:30: the register restarted at 0 and reached 0.3.
    steps = run([(0, 1234.5), (15, 1235.0), (30, 0.3), (45, 0.7)])
    assert [s.outcome for s in steps] == ["baseline", "normal", "reset", "normal"]
    assert steps[2].energy_kwh == pytest.approx(0.3)
    assert steps[3].energy_kwh == pytest.approx(0.4)
    total = sum(s.energy_kwh or 0 for s in steps)
    assert total == pytest.approx(0.5 + 0.3 + 0.4)


def test_rounding_noise_is_not_a_reset_and_is_not_counted_twice() -> None:
    steps = run([(0, 10.0), (15, 10.5), (30, 10.4995), (45, 10.7)])
    assert steps[2].outcome == "noise" and steps[2].energy_kwh == 0.0
    # The higher value is kept, so 10.4995 -> 10.7 does not count 0.0005 again.
    assert steps[3].energy_kwh == pytest.approx(0.2)


def test_out_of_order_readings_keep_the_total_and_never_count_twice() -> None:
    # Sent at 0, 15, 30, 45; the 15 arrives after the 30.
    steps = run([(0, 20.0), (30, 21.0), (15, 20.4), (45, 21.6)])
    assert [s.outcome for s in steps] == ["baseline", "normal", "stale", "normal"]
    assert steps[1].energy_kwh == pytest.approx(1.0)  # 10:00-10:30, including 10:15's share
    assert steps[1].since == at(0)
    assert steps[2].energy_kwh is None and steps[2].state == RegisterState(at(30), 21.0)
    assert steps[3].energy_kwh == pytest.approx(0.6)
    assert sum(s.energy_kwh or 0 for s in steps) == pytest.approx(21.6 - 20.0)


def test_a_redelivered_reading_gives_nothing() -> None:
    steps = run([(0, 5.0), (15, 5.25), (15, 5.25), (0, 5.0)])
    assert [s.outcome for s in steps] == ["baseline", "normal", "stale", "stale"]
    assert sum(s.energy_kwh or 0 for s in steps) == pytest.approx(0.25)


def test_negative_register_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        advance(None, T0, -1.0)
