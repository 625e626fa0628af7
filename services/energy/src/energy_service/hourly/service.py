"""A community's hourly sums, computed ahead of time and kept current.

Why: the direct path settles every plant-hour of the span on each request
(InfluxDB quarter-hour sums, ``settle``, ``aggregate``), about 30 us per
plant-hour: a community of 1,000 plants over a year is minutes. A community's
aggregate only needs, per hour and primary substation, the sums over its
active points (and the engine's whole-Wh fed-in and withdrawn, from which the
engine takes the shared energy): (substations x hours) rows, ~26,000 for three
substations over a year, whatever the number of plants.

Where: a PostgreSQL table in the energy schema (``community_hours``), not an
InfluxDB continuous query, because the sums depend on the registry (which
points are active in which hour, on which substation), which lives in
PostgreSQL and changes by events; the sums can be replaced per community and
span in one transaction with the digest of the stays they were computed with.
And because a continuous query cannot apply the per-hour precedence
(official > manual > iot) and the per-quarter-hour derivation of the exchange.

Correctness never depends on freshness: the rows of a community month are read
only when the month was computed with the registry stays it has now
(``community_months.stays_sha256``); otherwise the request takes the direct
path. Plant-hours written since their rows were computed are marked
(``hourly_dirty``, by the store after each write): a request computes those
hours from the store (the current hour, as readings arrive) in place of their
rows, or takes the direct path when they span more than two days. The worker
(:class:`CommunityHoursWorker`) brings the rows up to date: the marked hours of
the communities concerned, then the months whose stays changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from cerc_shared.clock import ITALY
from cerc_shared.readmodels import PlantStay
from cerc_shared.worker import Worker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from energy_service.aggregation import HOUR_S, AggregateResolution, Bucket
from energy_service.hourly.compute import (
    buckets_of,
    columns_of,
    hour_rows,
    month_span,
    months_between,
    next_month,
    stays_digest,
)
from energy_service.hourly.repository import HourlyRepository
from energy_service.models import registry
from energy_service.quantities import QUARTER_HOUR_S, quarters_of, settle
from energy_service.timeseries import EnergyPoint, Point, SeriesQuery, TimeSeriesStore

log = logging.getLogger(__name__)


# Marked hours spanning more than this are not settled at request time: the
# request takes the direct path (an import of a month is taken in by the worker
# within seconds).
MAX_FRESH_SPAN = timedelta(days=2)


async def precomputed_buckets(
    session: AsyncSession,
    store: TimeSeriesStore,
    community_id: int,
    start: datetime,
    end: datetime,
    resolution: AggregateResolution,
    *,
    primary_substation: str | None,
    stays: Sequence[PlantStay] | None = None,
) -> list[Bucket] | None:
    """The community's (or one substation's) buckets from the hourly sums, or
    None when they cannot be used for the span (then: the direct path).
    ``stays``: the community's stays in the span's months, when already read
    (``community_stays``).

    Hours written since they were computed (readings arrive all the time in the
    current hour) are computed here from the store, as the worker will, and
    take the place of their rows."""
    if resolution == "15min":
        return None
    months = months_between(start, end)
    if stays is None:
        stays = await community_stays(session, community_id, start, end)
    repository = HourlyRepository(session)
    stored = await repository.month_digests(community_id, months)
    if any(stored.get(month) != stays_digest(stays, month) for month in months):
        return None
    plant_ids = sorted({s.plant_id for s in stays})
    dirty = await repository.dirty_hours(plant_ids, start, end) if stays else []
    columns = await repository.columns(community_id, start, end, primary_substation)
    if dirty:
        low, high = min(dirty), max(dirty) + timedelta(hours=1)
        if high - low > MAX_FRESH_SPAN:
            return None
        sums = await store.energy_sums(
            SeriesQuery(start=low, end=high, plant_ids=plant_ids),
            timedelta(seconds=QUARTER_HOUR_S),
        )
        fresh = hour_rows(stays, settle(quarters_of(sums), HOUR_S), low, high)
        columns = columns.outside(low, high).plus(
            columns_of(
                [
                    r
                    for r in fresh
                    if primary_substation is None or r.primary_substation == primary_substation
                ]
            )
        )
    return buckets_of(columns, start, end, resolution, with_shared=True)


async def community_stays(
    session: AsyncSession, community_id: int, start: datetime, end: datetime
) -> list[PlantStay]:
    """The community's stays in the Italian months of ``[start, end)``: what the
    hourly sums of those months were computed with (their digests)."""
    months = months_between(start, end)
    return await registry.reader(session).plant_stays(
        community_id, between=(months[0], next_month(months[-1]))
    )


async def compute_span(
    session: AsyncSession,
    store: TimeSeriesStore,
    community_id: int,
    month: date,
    start: datetime | None = None,
    end: datetime | None = None,
) -> None:
    """Compute the rows of a community month (or of the hours ``[start, end)``
    inside it) from the store, as the direct path would, and record the stays
    digest when the whole month was computed."""
    first, following = month_span(month)
    whole = start is None and end is None
    start, end = max(start or first, first), min(end or following, following)
    stays = await registry.reader(session).plant_stays(
        community_id, between=(month, next_month(month))
    )
    settled = []
    if stays:
        sums = await store.energy_sums(
            SeriesQuery(start=start, end=end, plant_ids=sorted({s.plant_id for s in stays})),
            timedelta(seconds=QUARTER_HOUR_S),
        )
        settled = settle(quarters_of(sums), HOUR_S)
    repository = HourlyRepository(session)
    await repository.replace_rows(community_id, start, end, hour_rows(stays, settled, start, end))
    if whole:
        await repository.computed(community_id, month, stays_digest(stays, month))


def hour_of(point: Point) -> tuple[int, datetime] | None:
    """The plant-hour an energy reading counts in (its interval ends at its timestamp)."""
    if not isinstance(point, EnergyPoint):
        return None
    at = int((point.timestamp - timedelta(microseconds=1)).timestamp()) // HOUR_S * HOUR_S
    return point.plant_id, datetime.fromtimestamp(at, UTC)


def hours_written(points: Sequence[Point]) -> set[tuple[int, datetime]]:
    """The plant-hours of the energy readings, each once (``hour_of`` of each)."""
    # A batch's thousands of readings share a few timestamps (devices report on ticks).
    hours: dict[datetime, datetime] = {}
    marks: set[tuple[int, datetime]] = set()
    for point in points:
        if isinstance(point, EnergyPoint):
            hour = hours.get(point.timestamp)
            if hour is None:
                marked = hour_of(point)
                assert marked is not None
                hour = hours[point.timestamp] = marked[1]
            marks.add((point.plant_id, hour))
    return marks


class DirtyMarker:
    """Given to the store (``on_written``): after each write, the plant-hours
    written are marked, so that no aggregate reads sums older than them."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def __call__(self, points: Sequence[Point]) -> None:
        marks = hours_written(points)
        if not marks:
            return
        async with self._sessionmaker() as session, session.begin():
            await HourlyRepository(session).mark(marks)


async def process_dirty(
    sessionmaker: async_sessionmaker[AsyncSession], store: TimeSeriesStore, limit: int = 5000
) -> int:
    """Bring the marked hours up to date (oldest marks first); how many were taken.

    Each community month in its own transaction, the marks dropped last in a short
    one: a mark being dropped is locked, and the ingestion marking the same hour
    again waits for that transaction, not for the InfluxDB reads."""
    async with sessionmaker() as session:
        repository = HourlyRepository(session)
        marks = await repository.dirty(limit)
        if not marks:
            return 0
        communities = await repository.communities_of(p for p, _, _ in marks)
    spans: dict[tuple[int, date], tuple[datetime, datetime]] = {}
    for plant_id, hour, _ in marks:
        month = hour.astimezone(ITALY).date().replace(day=1)
        for community_id in communities.get(plant_id, ()):
            low, high = spans.get((community_id, month), (hour, hour))
            spans[(community_id, month)] = (min(low, hour), max(high, hour))
    for (community_id, month), (low, high) in sorted(spans.items()):
        async with sessionmaker() as session, session.begin():
            stored = await HourlyRepository(session).month_digests(community_id, [month])
            if month in stored:  # else read directly until the month is computed
                await compute_span(
                    session, store, community_id, month, low, high + timedelta(hours=1)
                )
    async with sessionmaker() as session, session.begin():
        await HourlyRepository(session).unmark(marks)
    return len(marks)


async def refresh_months(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: TimeSeriesStore,
    *,
    months_back: int,
    limit: int,
    today: date | None = None,
) -> int:
    """Compute the community months (up to ``months_back`` before this one) whose
    stays changed or that were never computed, newest first; how many."""
    today = today or datetime.now(ITALY).date()
    oldest = today.replace(day=1)
    for _ in range(months_back):
        oldest = (oldest - timedelta(days=1)).replace(day=1)
    done = 0
    async with sessionmaker() as session:
        community_ids = await HourlyRepository(session).community_ids()
    for community_id in community_ids:
        async with sessionmaker() as session, session.begin():
            repository = HourlyRepository(session)
            stays = await registry.reader(session).plant_stays(
                community_id, between=(oldest, next_month(today))
            )
            if not stays:
                continue
            first = max(oldest, min(s.valid_from for s in stays).replace(day=1))
            months = months_between(month_span(first)[0], month_span(today.replace(day=1))[1])
            stored = await repository.month_digests(community_id, months)
            stale = [m for m in reversed(months) if stored.get(m) != stays_digest(stays, m)]
        for month in stale[: limit - done]:
            async with sessionmaker() as session, session.begin():
                await compute_span(session, store, community_id, month)
            done += 1
        if done >= limit:
            break
    return done


class CommunityHoursWorker(Worker):
    """Keeps ``community_hours`` current: marked hours first (readings, imports),
    then months whose stays changed; every ``period_s`` when idle."""

    restart_delay_s = 5.0

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: TimeSeriesStore,
        *,
        period_s: float,
        months_back: int,
        dirty_pause_s: float = 1.0,
    ) -> None:
        super().__init__("community-hours")
        self._dirty_pause_s = dirty_pause_s
        self._sessionmaker = sessionmaker
        self._store = store
        self._period_s = period_s
        self._months_back = months_back

    async def run(self) -> None:
        while True:
            while await process_dirty(self._sessionmaker, self._store):  # noqa: ASYNC110
                # While readings arrive, the current hour is marked again by every
                # batch: rounds back to back recomputed it without end, on the
                # ingestion's CPU. Meanwhile the marks coalesce (one row a
                # plant-hour) and requests compute marked hours themselves.
                await asyncio.sleep(self._dirty_pause_s)
            # A few months a round, so marked hours never wait long behind a backlog.
            months = await refresh_months(
                self._sessionmaker, self._store, months_back=self._months_back, limit=4
            )
            if not months:
                await asyncio.sleep(self._period_s)
