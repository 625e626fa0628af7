"""A community's (or one substation's) aggregates from the hourly sums, kept as
response bodies while what they were computed from is unchanged.

Why: a manager's dashboard asks for the same community month again and again.
Answering it from the hourly sums costs five queries (the manager check, the
stays twice, the months' digests, the marked hours) and the decoding of
(substations x hours) rows, ~8 ms of the service's CPU a request (py-spy at 50
clients, bench/bench_gateway.py); the answer changes only when those rows, the
months' stays or the marked hours do.

What a kept answer depends on, and how each is checked on every request:

* the caller's right to the community and the community's stays (the
  perimeter): kept like a reading scope (``scope_cache``), per caller, for a
  couple of seconds and forgotten in this process as soon as a registry event
  is applied here (the perimeter cache is linked to the reading scopes);
* the hourly rows and the marked hours: one statement on the read pool per
  request (``repository.hourly_stamp``): per month the stays digest the rows
  were computed with and ``rows_version``, drawn from a sequence whenever the
  month's rows change (never the same twice, so no earlier state comes back),
  and the count and latest of the marks of the community's plants in the span
  (a reading or an import marks its plant-hours once stored; the worker
  replaces the rows, which draws a new version, before it drops the marks).

A body is kept under the stamp read before it was computed, so it is never
older than its stamp: any change afterwards gives another stamp and the next
request computes again. Only answers from the hourly sums are kept (not the
direct path's, which has no version to check) and only JSON ones.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cerc_shared.auth import Principal
from cerc_shared.clock import italian_today
from cerc_shared.db import ReadPool
from cerc_shared.readmodels import PlantStay
from sqlalchemy.ext.asyncio import AsyncSession

from energy_service.aggregation import Point
from energy_service.hourly.compute import months_between, stays_digest
from energy_service.hourly.repository import HourlyStamp, hourly_stamp
from energy_service.hourly.service import community_stays
from energy_service.scope_cache import ScopeCache

# Bodies kept at most, in bytes (a year by hour is ~3.5 MB); past it, all are forgotten.
MAX_KEPT_BYTES = 64 * 2**20


@dataclass(frozen=True)
class CommunityPerimeter:
    """What the registry said for a caller's community aggregate: the points the
    caller may read (the endpoint's perimeter), and the community's stays in the
    span's months with their digests (what the hourly sums were computed with)."""

    plants: Sequence[Point]
    stays: list[PlantStay]
    months: list[date]
    digests: dict[date, str]
    plant_ids: list[int]


def perimeter_key(
    principal: Principal,
    by: str,
    community_id: int,
    primary_substation: str | None,
    start: datetime,
    end: datetime,
) -> Hashable:
    # The caller's identity and day, as a reading scope's: the manager check is the day's.
    return (
        "aggregate", principal.user_id, principal.user_type, by, community_id,
        primary_substation, start, end, italian_today(),
    )  # fmt: skip


async def perimeter_of(
    session: AsyncSession,
    community_id: int,
    plants: Sequence[Point],
    start: datetime,
    end: datetime,
) -> CommunityPerimeter:
    stays = await community_stays(session, community_id, start, end)
    months = months_between(start, end)
    return CommunityPerimeter(
        plants=plants,
        stays=stays,
        months=months,
        digests={month: stays_digest(stays, month) for month in months},
        plant_ids=sorted({s.plant_id for s in stays}),
    )


class KeptAnswers:
    """Response bodies by request, each with the stamp it was computed under (any
    value compared by equality: a community's ``HourlyStamp``; a plant's reading
    scope and ``PlantStamp``)."""

    def __init__(self, max_bytes: int = MAX_KEPT_BYTES) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._bodies: dict[Hashable, tuple[object, bytes]] = {}

    def get(self, key: Hashable, stamp: object) -> bytes | None:
        kept = self._bodies.get(key)
        return kept[1] if kept is not None and kept[0] == stamp else None

    def forget(self) -> None:
        self._bodies.clear()
        self._bytes = 0

    def put(self, key: Hashable, stamp: object, body: bytes) -> None:
        if len(body) > self._max_bytes:
            return
        if self._bytes + len(body) > self._max_bytes:
            self.forget()
        previous = self._bodies.pop(key, None)
        if previous is not None:
            self._bytes -= len(previous[1])
        self._bodies[key] = (stamp, body)
        self._bytes += len(body)


@dataclass(frozen=True)
class CommunityReads:
    """The app's caches for community aggregates (``app.state.community_reads``)."""

    perimeters: ScopeCache[CommunityPerimeter]
    answers: KeptAnswers

    @classmethod
    def of(cls, state: Any) -> CommunityReads:
        reads: CommunityReads = state.community_reads
        return reads

    async def stamp(
        self,
        pool: ReadPool,
        community_id: int,
        perimeter: CommunityPerimeter,
        start: datetime,
        end: datetime,
    ) -> HourlyStamp | None:
        """The stamp of the span's hourly sums; None when a month was not computed
        with the perimeter's stays (then nothing is kept or served)."""
        stamp = await hourly_stamp(
            pool, community_id, perimeter.months, perimeter.plant_ids, start, end
        )
        return stamp if stamp.computed_with(perimeter.digests) else None
