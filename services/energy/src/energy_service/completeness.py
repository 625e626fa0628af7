"""Is a community's month ready to settle? Per POD and hour: official data,
official but estimated by the distributor (TipoDato E), only manual or iot
estimates, or nothing. The economic service refuses a PROVISIONAL settlement
while official data is incomplete; this is what it (and the manager) asks.

A POD counts only in the hours of its period in the community."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from cerc_shared.clock import ITALY

from energy_service.aggregation import Point, active, by_plant
from energy_service.quantities import IntervalQuantities

HOUR = timedelta(hours=1)


@dataclass
class PodCompleteness:
    plant_id: int
    pod: str
    hours: int = 0
    by_source: dict[str, int] = field(
        default_factory=lambda: {"official": 0, "manual": 0, "iot": 0, "missing": 0}
    )
    estimated_hours: int = 0
    # Local days with an hour not official, or official but estimated.
    incomplete_days: set[date] = field(default_factory=set)

    @property
    def complete(self) -> bool:
        return self.hours == self.by_source["official"] and self.estimated_hours == 0


def month_bounds(month: date) -> tuple[datetime, datetime]:
    following = (month + timedelta(days=32)).replace(day=1)
    return (
        datetime(month.year, month.month, 1, tzinfo=ITALY).astimezone(UTC),
        datetime(following.year, following.month, 1, tzinfo=ITALY).astimezone(UTC),
    )


def completeness(
    plants: Sequence[Point],
    settled: Iterable[IntervalQuantities],
    month: date,
    estimated_days: dict[int, set[date]],
) -> list[PodCompleteness]:
    start, end = month_bounds(month)
    source_of = {(s.plant_id, s.start): s.source for s in settled}
    out = []
    for plant_id, stays in by_plant(plants).items():
        report = PodCompleteness(plant_id, stays[0].pod)
        estimated = estimated_days.get(plant_id, set())
        at = start
        while at < end:
            if active(stays, at):
                report.hours += 1
                day = at.astimezone(ITALY).date()
                source = source_of.get((plant_id, at), "missing")
                report.by_source[source] = report.by_source.get(source, 0) + 1
                if source == "official" and day in estimated:
                    report.estimated_hours += 1
                    report.incomplete_days.add(day)
                elif source != "official":
                    report.incomplete_days.add(day)
            at += HOUR
        out.append(report)
    return out
