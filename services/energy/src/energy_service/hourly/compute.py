"""From a community's stays and settled plant-hours to its rows of hourly sums,
and from those rows back to the buckets ``aggregation.aggregate`` gives.

Both directions use the same pieces as the direct path: ``aggregation.active``
(a point counts in the hours of its stays), ``aggregation.bucket_bounds`` (the
Italian buckets), and the rules engine's ``sum_to_intervals`` (each plant-hour
rounded to the Wh), ``sum_by_group`` (per primary substation) and
``shared_energy`` (the min). The rule is not written again here: the rows keep
the engine's per-substation Wh sums, and shared energy is taken from them by
the engine at read time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
from cacer.hours import HourGrid, sum_to_intervals
from cacer.shared_energy import shared_energy, sum_by_group
from cerc_shared.clock import ITALY
from cerc_shared.readmodels import PlantStay
from numpy.typing import NDArray

from energy_service.aggregation import (
    HOUR_S,
    AggregateResolution,
    Bucket,
    Point,
    active,
    bucket_bounds,
    by_plant,
)
from energy_service.hourly.models import EXCHANGE_BITS
from energy_service.quantities import IntervalQuantities

SOURCES = ("official", "manual", "iot")


@dataclass(frozen=True, slots=True)
class HourRow:
    """One community's sums in one UTC hour over the points of one substation."""

    primary_substation: str
    hour: datetime
    produced_kwh: float
    consumed_kwh: float
    fed_in_kwh: float
    withdrawn_kwh: float
    self_consumption_kwh: float
    fed_in_wh: int
    withdrawn_wh: int
    official: int
    manual: int
    iot: int
    missing: int
    exchange: int


def substation_key(point: Point) -> str:
    # As the direct path groups them: a plant whose substation is not known is alone under "".
    return point.primary_substation or ""


def next_month(month: date) -> date:
    return (month.replace(day=1) + timedelta(days=32)).replace(day=1)


def month_span(month: date) -> tuple[datetime, datetime]:
    """The UTC instants of an Italian month's first and following midnights."""
    return _midnight(month), _midnight(next_month(month))


def months_between(start: datetime, end: datetime) -> list[date]:
    """The Italian months meeting ``[start, end)``."""
    month = start.astimezone(ITALY).date().replace(day=1)
    months = []
    while _midnight(month) < end:
        months.append(month)
        month = next_month(month)
    return months


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ITALY).astimezone(UTC)


def stays_digest(stays: Iterable[PlantStay], month: date) -> str:
    """What a community month's rows depend on in the registry: which plants
    count on which days of the month (their stays clipped to it), and on which
    substation. Stays split differently over the same days give another digest:
    the month is computed once more, never read wrong."""
    following = next_month(month)
    text = []
    for stay in sorted(stays, key=lambda s: (s.plant_id, s.valid_from)):
        start = max(stay.valid_from, month)
        end = min(stay.valid_to or following, following)
        if start < end:
            text.append(f"{stay.plant_id}:{substation_key(stay)}:{start}:{end}")
    return hashlib.sha256("\n".join(text).encode()).hexdigest()


def hour_rows(
    stays: Sequence[Point],
    settled: Sequence[IntervalQuantities],
    start: datetime,
    end: datetime,
) -> list[HourRow]:
    """The rows of ``[start, end)`` (whole UTC hours) for the community's stays,
    from hourly settled quantities (``settle(..., 3600)``)."""
    by_id = by_plant(stays)
    plants = [s[0] for s in by_id.values()]
    substations = sorted({substation_key(p) for p in plants})
    sub_of_plant = {p.plant_id: substations.index(substation_key(p)) for p in plants}
    first = int(start.timestamp()) // HOUR_S * HOUR_S
    hours = (int(end.timestamp()) - first) // HOUR_S
    if hours <= 0 or not plants:
        return []
    grid = HourGrid(start_utc=first, count=hours)
    shape = (len(substations), hours)
    floats = np.zeros((5, *shape))
    counts = np.zeros((4, *shape), dtype=np.int64)  # official, manual, iot, missing
    exchange = np.zeros(shape, dtype=np.int64)
    # Whether a plant counts is decided per Italian day (``aggregation.active``):
    # asked once per plant and day, not per hour.
    days: dict[date, dict[int, bool]] = {}

    def active_in(plant_id: int, at: datetime) -> bool:
        day = at.astimezone(ITALY).date()
        found = days.get(day)
        if found is None:
            found = days[day] = {p: active(s, at) for p, s in by_id.items()}
        return found[plant_id]

    # Every active point-hour is expected: covered by a source or missing.
    per_day: dict[date, NDArray[np.int64]] = {}
    for h in range(hours):
        at = datetime.fromtimestamp(first + h * HOUR_S, UTC)
        day = at.astimezone(ITALY).date()
        if day not in per_day:
            active_count = np.zeros(len(substations), dtype=np.int64)
            for plant_id in by_id:
                if active_in(plant_id, at):
                    active_count[sub_of_plant[plant_id]] += 1
            per_day[day] = active_count
        counts[3, :, h] += per_day[day]
    kept: list[IntervalQuantities] = []
    for item in settled:
        if item.plant_id not in by_id or not start <= item.start < end:
            continue
        if not active_in(item.plant_id, item.start):
            continue
        kept.append(item)
        sub, h = sub_of_plant[item.plant_id], (int(item.start.timestamp()) - first) // HOUR_S
        floats[0, sub, h] += item.produced_kwh
        floats[1, sub, h] += item.consumed_kwh
        floats[2, sub, h] += item.fed_in_kwh
        floats[3, sub, h] += item.withdrawn_kwh
        floats[4, sub, h] += item.self_consumption_kwh
        if item.source in SOURCES:
            counts[SOURCES.index(item.source), sub, h] += 1
        counts[3, sub, h] -= 1
        exchange[sub, h] |= EXCHANGE_BITS[item.exchange]
    row_of = {p.plant_id: i for i, p in enumerate(plants)}
    rows = np.array([row_of[s.plant_id] for s in kept], dtype=np.int64)
    starts = np.array([int(s.start.timestamp()) for s in kept], dtype=np.int64)
    group = np.array([sub_of_plant[p.plant_id] for p in plants], dtype=np.int64)
    wh = [
        sum_by_group(
            sum_to_intervals(grid, rows, starts, np.array(values, dtype=np.float64), len(plants)),
            group,
            len(substations),
        )
        for values in ([s.fed_in_kwh for s in kept], [s.withdrawn_kwh for s in kept])
    ]
    out = []
    for sub, name in enumerate(substations):
        for h in range(hours):
            if not counts[:, sub, h].any() and not exchange[sub, h]:
                continue
            out.append(
                HourRow(
                    primary_substation=name,
                    hour=datetime.fromtimestamp(first + h * HOUR_S, UTC),
                    produced_kwh=float(floats[0, sub, h]),
                    consumed_kwh=float(floats[1, sub, h]),
                    fed_in_kwh=float(floats[2, sub, h]),
                    withdrawn_kwh=float(floats[3, sub, h]),
                    self_consumption_kwh=float(floats[4, sub, h]),
                    fed_in_wh=int(wh[0][sub, h]),
                    withdrawn_wh=int(wh[1][sub, h]),
                    official=int(counts[0, sub, h]),
                    manual=int(counts[1, sub, h]),
                    iot=int(counts[2, sub, h]),
                    missing=int(counts[3, sub, h]),
                    exchange=int(exchange[sub, h]),
                )
            )
    return out


@dataclass(frozen=True)
class HourColumns:
    """Hour rows by column (what a request reads: one array per quantity, so a
    year of a community is summed into its buckets by numpy, not row by row)."""

    substations: list[str]
    substation: NDArray[np.int64]  # index into ``substations``
    hour: NDArray[np.int64]  # UTC epoch seconds of the hour's start
    # produced, consumed, fed-in, withdrawn, self-consumption (kWh)
    energy: NDArray[np.float64]
    # official, manual, iot, missing (point-hours)
    coverage: NDArray[np.int64]
    wh: NDArray[np.int64]  # the engine's fed-in and withdrawn Wh
    exchange: NDArray[np.int64]

    def outside(self, start: datetime, end: datetime) -> HourColumns:
        """Without the hours of ``[start, end)``."""
        keep = (self.hour < int(start.timestamp())) | (self.hour >= int(end.timestamp()))
        return HourColumns(
            self.substations, self.substation[keep], self.hour[keep], self.energy[:, keep],
            self.coverage[:, keep], self.wh[:, keep], self.exchange[keep],
        )  # fmt: skip

    def plus(self, other: HourColumns) -> HourColumns:
        names = list(self.substations)
        for name in other.substations:
            if name not in names:
                names.append(name)
        moved = np.array([names.index(n) for n in other.substations], dtype=np.int64)
        return HourColumns(
            names,
            np.concatenate([self.substation, moved[other.substation]]),
            np.concatenate([self.hour, other.hour]),
            np.concatenate([self.energy, other.energy], axis=1),
            np.concatenate([self.coverage, other.coverage], axis=1),
            np.concatenate([self.wh, other.wh], axis=1),
            np.concatenate([self.exchange, other.exchange]),
        )


def columns_of(rows: Sequence[HourRow]) -> HourColumns:
    names = sorted({r.primary_substation for r in rows})
    return HourColumns(
        names,
        np.array([names.index(r.primary_substation) for r in rows], dtype=np.int64),
        np.array([int(r.hour.timestamp()) for r in rows], dtype=np.int64),
        np.array(
            [
                [r.produced_kwh for r in rows], [r.consumed_kwh for r in rows],
                [r.fed_in_kwh for r in rows], [r.withdrawn_kwh for r in rows],
                [r.self_consumption_kwh for r in rows],
            ],
            dtype=np.float64,
        ).reshape(5, len(rows)),
        np.array(
            [[r.official for r in rows], [r.manual for r in rows], [r.iot for r in rows],
             [r.missing for r in rows]],
            dtype=np.int64,
        ).reshape(4, len(rows)),
        np.array([[r.fed_in_wh for r in rows], [r.withdrawn_wh for r in rows]], dtype=np.int64)
        .reshape(2, len(rows)),
        np.array([r.exchange for r in rows], dtype=np.int64),
    )  # fmt: skip


def buckets_of(
    columns: HourColumns,
    start: datetime,
    end: datetime,
    resolution: AggregateResolution,
    *,
    with_shared: bool,
) -> list[Bucket]:
    """The buckets of ``[start, end)`` from hour rows (hour and coarser)."""
    first = int(start.timestamp()) // HOUR_S * HOUR_S
    hours = (int(end.timestamp()) - first) // HOUR_S
    buckets: list[Bucket] = []
    bucket_of_hour = np.zeros(hours, dtype=np.int64)
    for h in range(hours):
        at = datetime.fromtimestamp(first + h * HOUR_S, UTC)
        if not buckets or at >= buckets[-1].end:
            buckets.append(Bucket(*bucket_bounds(at, resolution)))
        bucket_of_hour[h] = len(buckets) - 1
    index = (columns.hour - first) // HOUR_S
    inside = (index >= 0) & (index < hours)
    index, substation = index[inside], columns.substation[inside]
    of_bucket = bucket_of_hour[index]
    count = len(buckets)

    def per_bucket(values: NDArray[np.float64] | NDArray[np.int64]) -> NDArray[np.float64]:
        return np.asarray(
            np.bincount(of_bucket, weights=values[inside], minlength=count), dtype=np.float64
        )

    energy = [per_bucket(columns.energy[k]) for k in range(5)]
    coverage = [per_bucket(columns.coverage[k]) for k in range(4)]
    seen = {
        name: per_bucket((columns.exchange & bit) != 0) > 0 for name, bit in EXCHANGE_BITS.items()
    }
    for b, bucket in enumerate(buckets):
        bucket.produced_kwh = float(energy[0][b])
        bucket.consumed_kwh = float(energy[1][b])
        bucket.fed_in_kwh = float(energy[2][b])
        bucket.withdrawn_kwh = float(energy[3][b])
        bucket.self_consumption_kwh = float(energy[4][b])
        for k, name in enumerate((*SOURCES, "missing")):
            bucket.coverage[name] = int(coverage[k][b])
        bucket.exchange.update(name for name, flags in seen.items() if flags[b])
    if with_shared and resolution != "15min":
        shape = (len(columns.substations), hours)
        fed, withdrawn = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
        np.add.at(fed, (substation, index), columns.wh[0][inside])
        np.add.at(withdrawn, (substation, index), columns.wh[1][inside])
        per_substation = shared_energy(fed, withdrawn).sum(axis=0)
        configuration = shared_energy(fed.sum(axis=0), withdrawn.sum(axis=0))
        shared = np.bincount(bucket_of_hour, weights=per_substation, minlength=count)
        whole = np.bincount(bucket_of_hour, weights=configuration, minlength=count)
        for b, bucket in enumerate(buckets):
            bucket.shared_wh = int(shared[b])
            bucket.shared_configuration_wh = int(whole[b])
    return buckets
