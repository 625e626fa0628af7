"""The live tally hears of a stored batch before the write's slower listener
(the hourly sums' dirty marks, a PostgreSQL transaction): pure, no servers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from energy_service.live import tally_first
from energy_service.timeseries import EnergyPoint, Point

POINTS = [
    EnergyPoint(1, "meter-1", "iot", datetime(2026, 12, 5, 15, tzinfo=UTC), {"voltage": 230.0})
]


async def test_the_tally_is_told_before_the_marks_are_written() -> None:
    told: list[Sequence[Point]] = []
    marking = asyncio.Event()
    marked: list[Sequence[Point]] = []

    async def mark(points: Sequence[Point]) -> None:
        await marking.wait()  # a transaction waiting for the hourly worker's
        marked.append(points)

    write = asyncio.create_task(tally_first(told.append, mark)(POINTS))
    await asyncio.sleep(0.01)
    assert told == [POINTS]
    assert marked == []
    assert not write.done()
    marking.set()
    await write
    assert marked == [POINTS]


async def test_a_failing_tally_neither_stops_the_marks_nor_the_write(
    caplog: pytest.LogCaptureFixture,
) -> None:
    marked: list[Sequence[Point]] = []

    def broken(points: Sequence[Point]) -> None:
        raise RuntimeError("tally broke")

    async def mark(points: Sequence[Point]) -> None:
        marked.append(points)

    await tally_first(broken, mark)(POINTS)
    assert marked == [POINTS]
    assert "the live tally failed" in caplog.text


async def test_a_failing_mark_still_fails_the_write_after_the_tally_counted() -> None:
    told: list[Sequence[Point]] = []

    async def mark(points: Sequence[Point]) -> None:
        raise ConnectionError("postgres gone")

    with pytest.raises(ConnectionError):
        await tally_first(told.append, mark)(POINTS)
    assert told == [POINTS]
