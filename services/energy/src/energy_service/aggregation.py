"""Aggregates of settled quantities over a perimeter (a plant, a member's
plants, a community, a primary substation) in Italian local time.

Per point and hour the quantities come from ``quantities.settle`` (one source
per hour, exchange measured or derived per quarter hour). A point counts
only in the hours of its period in the community ("points active in that
hour"). Shared energy is the rules engine's (``cacer``): per hour, hourly
sums in whole Wh, then ``min(Σ fed-in, Σ withdrawn)`` per primary substation
(what is incentivised, summed over substations for a community) and over the
whole configuration (reported, earns nothing by itself). It is not written
again here. At 15-minute resolution there is no shared energy: the rules
take the min per hour.

Coverage: per bucket, how many point-intervals came from each source, and
how many of the active point-intervals had no data at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol

import numpy as np
from cacer.hours import HourGrid, sum_to_intervals
from cacer.shared_energy import shared_energy, sum_by_group
from cerc_shared.clock import ITALY

from energy_service.quantities import IntervalQuantities

AggregateResolution = Literal["15min", "hour", "day", "month", "year"]
HOUR_S = 3600


class Point(Protocol):
    """A plant's stay in the perimeter (``PlantStay``; a plant's latest
    ``PlantFacts`` when one plant is asked for). A plant may have several
    stays: it counts in the hours of each."""

    @property
    def plant_id(self) -> int: ...
    @property
    def pod(self) -> str: ...
    @property
    def primary_substation(self) -> str | None: ...
    def active_on(self, day: date) -> bool: ...


@dataclass
class Bucket:
    start: datetime
    end: datetime
    produced_kwh: float = 0.0
    consumed_kwh: float = 0.0
    fed_in_kwh: float = 0.0
    withdrawn_kwh: float = 0.0
    self_consumption_kwh: float = 0.0
    shared_wh: int | None = None
    shared_configuration_wh: int | None = None
    coverage: dict[str, int] = field(
        default_factory=lambda: {"official": 0, "manual": 0, "iot": 0, "missing": 0}
    )
    exchange: set[str] = field(default_factory=set)


def bucket_bounds(at: datetime, resolution: AggregateResolution) -> tuple[datetime, datetime]:
    """The local bucket (start, end) holding the interval that starts at ``at`` (UTC)."""
    if resolution == "15min":
        return at, at + timedelta(minutes=15)
    if resolution == "hour":
        return at, at + timedelta(hours=1)
    local = at.astimezone(ITALY)
    if resolution == "day":
        first = local.date()
        following = first + timedelta(days=1)
    elif resolution == "month":
        first = local.date().replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
    else:
        first = date(local.year, 1, 1)
        following = date(local.year + 1, 1, 1)
    return _midnight(first), _midnight(following)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ITALY).astimezone(UTC)


def active(stays: Sequence[Point], interval_start: datetime) -> bool:
    """Whether one of a plant's stays covers the interval's Italian day."""
    day = interval_start.astimezone(ITALY).date()
    return any(stay.active_on(day) for stay in stays)


def by_plant(points: Sequence[Point]) -> dict[int, list[Point]]:
    """The stays of each plant, plants in the order first seen."""
    stays: dict[int, list[Point]] = {}
    for point in points:
        stays.setdefault(point.plant_id, []).append(point)
    return stays


def aggregate(
    plants: Sequence[Point],
    settled: Sequence[IntervalQuantities],
    start: datetime,
    end: datetime,
    resolution: AggregateResolution,
    *,
    with_shared: bool,
) -> list[Bucket]:
    """Buckets covering ``[start, end)`` (hour-aligned UTC instants)."""
    step = 900 if resolution == "15min" else HOUR_S
    by_id = by_plant(plants)
    buckets: dict[datetime, Bucket] = {}

    def bucket_of(at: datetime) -> Bucket:
        bounds = bucket_bounds(at, resolution)
        found = buckets.get(bounds[0])
        if found is None:
            found = buckets[bounds[0]] = Bucket(*bounds)
        return found

    # Every active point-interval is expected: it is covered by a source or missing.
    first = int(start.timestamp()) // step * step
    instants = [datetime.fromtimestamp(t, UTC) for t in range(first, int(end.timestamp()), step)]
    for at in instants:
        bucket = bucket_of(at)
        bucket.coverage["missing"] += sum(1 for stays in by_id.values() if active(stays, at))
    kept: list[IntervalQuantities] = []
    for item in settled:
        stays = by_id.get(item.plant_id)
        if stays is None or not active(stays, item.start) or not start <= item.start < end:
            continue
        kept.append(item)
        bucket = bucket_of(item.start)
        bucket.produced_kwh += item.produced_kwh
        bucket.consumed_kwh += item.consumed_kwh
        bucket.fed_in_kwh += item.fed_in_kwh
        bucket.withdrawn_kwh += item.withdrawn_kwh
        bucket.self_consumption_kwh += item.self_consumption_kwh
        bucket.coverage[item.source] = bucket.coverage.get(item.source, 0) + 1
        bucket.coverage["missing"] -= 1
        bucket.exchange.add(item.exchange)
    if with_shared and resolution != "15min":
        _add_shared([stays[0] for stays in by_id.values()], kept, start, len(instants), bucket_of)
    return [buckets[k] for k in sorted(buckets)]


def _add_shared(
    plants: Sequence[Point],
    settled: Sequence[IntervalQuantities],
    start: datetime,
    hours: int,
    bucket_of: Callable[[datetime], Bucket],
) -> None:
    """Shared energy per hour by the rules engine, added to each hour's bucket
    (``plants``: one point per plant; the substation is the plant's)."""
    grid = HourGrid(start_utc=int(start.timestamp()) // HOUR_S * HOUR_S, count=hours)
    row_of = {p.plant_id: i for i, p in enumerate(plants)}
    # A plant whose substation is not known yet (a row carried over from the
    # earlier read model) is grouped alone under "".
    substations = sorted({p.primary_substation or "" for p in plants})
    substation_of_row = np.array(
        [substations.index(p.primary_substation or "") for p in plants], dtype=np.int64
    )
    rows = np.array([row_of[s.plant_id] for s in settled], dtype=np.int64)
    starts = np.array([int(s.start.timestamp()) for s in settled], dtype=np.int64)
    fed_in = sum_to_intervals(
        grid, rows, starts, np.array([s.fed_in_kwh for s in settled], dtype=np.float64), len(plants)
    )
    withdrawn = sum_to_intervals(
        grid,
        rows,
        starts,
        np.array([s.withdrawn_kwh for s in settled], dtype=np.float64),
        len(plants),
    )
    per_substation = shared_energy(
        sum_by_group(fed_in, substation_of_row, len(substations)),
        sum_by_group(withdrawn, substation_of_row, len(substations)),
    ).sum(axis=0)
    configuration = shared_energy(fed_in.sum(axis=0), withdrawn.sum(axis=0))
    for index, at in enumerate(grid.starts_utc().tolist()):
        bucket = bucket_of(datetime.fromtimestamp(at, UTC))
        bucket.shared_wh = (bucket.shared_wh or 0) + int(per_substation[index])
        bucket.shared_configuration_wh = (bucket.shared_configuration_wh or 0) + int(
            configuration[index]
        )
