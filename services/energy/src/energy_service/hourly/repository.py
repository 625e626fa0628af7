"""The queries of the precomputed hourly sums."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime

import numpy as np
from cerc_shared.db import ReadPool
from sqlalchemy import (
    ARRAY,
    BigInteger,
    DateTime,
    any_,
    bindparam,
    cast,
    delete,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession

from energy_service.hourly.compute import HourColumns, HourRow, columns_of, months_between
from energy_service.hourly.models import (
    NEXT_PLANT_MARKS_VERSION,
    NEXT_ROWS_VERSION,
    community_hours,
    community_months,
    hourly_dirty,
    plant_marks_dropped,
)
from energy_service.models import registry

_MARKED = select(
    func.unnest(
        bindparam("plant_ids", type_=ARRAY(BigInteger)),
        bindparam("hours", type_=ARRAY(DateTime(timezone=True))),
    )
    .table_valued("plant_id", "hour")
    .render_derived()
)
_MARK = (
    insert(hourly_dirty)
    .from_select(["plant_id", "hour"], _MARKED)
    .on_conflict_do_update(
        index_elements=["plant_id", "hour"], set_={"marked_at": func.clock_timestamp()}
    )
)

_TAKEN = _MARKED.subquery()
_UNMARK = delete(hourly_dirty).where(
    tuple_(hourly_dirty.c.plant_id, hourly_dirty.c.hour).in_(
        select(_TAKEN.c.plant_id, _TAKEN.c.hour)
    ),
    hourly_dirty.c.marked_at <= bindparam("read_up_to", type_=DateTime(timezone=True)),
)

# The plants whose marks were taken: their version drawn again (hourly.models).
_DROPPED = (
    insert(plant_marks_dropped)
    .from_select(
        ["plant_id"],
        select(func.unnest(bindparam("plant_ids", type_=ARRAY(BigInteger))).label("plant_id")),
    )
    .on_conflict_do_update(
        index_elements=["plant_id"], set_={"version": text(NEXT_PLANT_MARKS_VERSION)}
    )
)

# After the hour (epoch seconds): energy (5), Wh (2), coverage (4), exchange.
COLUMN_NAMES = (
    "produced_kwh", "consumed_kwh", "fed_in_kwh", "withdrawn_kwh", "self_consumption_kwh",
    "fed_in_wh", "withdrawn_wh", "official", "manual", "iot", "missing", "exchange",
)  # fmt: skip


class HourlyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------- reads

    async def month_digests(self, community_id: int, months: Sequence[date]) -> dict[date, str]:
        rows = await self.session.execute(
            select(community_months.c.month, community_months.c.stays_sha256).where(
                community_months.c.community_id == community_id,
                community_months.c.month.in_(list(months)),
            )
        )
        return {month: digest for month, digest in rows}

    async def dirty_hours(
        self, plant_ids: Sequence[int], start: datetime, end: datetime
    ) -> list[datetime]:
        """The marked hours of these plants in ``[start, end)``."""
        found = await self.session.scalars(
            select(hourly_dirty.c.hour)
            .where(
                hourly_dirty.c.plant_id.in_(list(plant_ids)),
                hourly_dirty.c.hour >= start,
                hourly_dirty.c.hour < end,
            )
            .distinct()
        )
        return list(found)

    async def columns(
        self,
        community_id: int,
        start: datetime,
        end: datetime,
        primary_substation: str | None = None,
    ) -> HourColumns:
        """The rows of ``[start, end)`` by column: one row of arrays per substation
        (a year of three substations is three rows, not 26,000)."""
        c = community_hours.c
        epoch = cast(func.extract("epoch", c.hour), BigInteger)
        arrays = [
            func.array_agg(aggregate_order_by(column, c.hour))
            for column in (epoch, *(c[name] for name in COLUMN_NAMES))
        ]
        query = (
            select(c.primary_substation, *arrays)
            .where(c.community_id == community_id, c.hour >= start, c.hour < end)
            .group_by(c.primary_substation)
        )
        if primary_substation is not None:
            query = query.where(c.primary_substation == primary_substation)
        groups = (await self.session.execute(query)).all()
        names = [g[0] for g in groups]
        if not groups:
            return columns_of([])
        parts = [np.array(list(g[1:]), dtype=np.float64) for g in groups]
        table = np.concatenate(parts, axis=1) if parts else np.zeros((len(COLUMN_NAMES) + 1, 0))
        ints = table.astype(np.int64)
        return HourColumns(
            names,
            np.concatenate([np.full(p.shape[1], i, dtype=np.int64) for i, p in enumerate(parts)]),
            ints[0],
            table[1:6],
            ints[8:12],
            ints[6:8],
            ints[12],
        )

    async def dirty(self, limit: int) -> list[tuple[int, datetime, datetime]]:
        """The oldest marks: (plant, hour, marked at)."""
        rows = await self.session.execute(
            select(hourly_dirty.c.plant_id, hourly_dirty.c.hour, hourly_dirty.c.marked_at)
            .order_by(hourly_dirty.c.marked_at)
            .limit(limit)
        )
        return [(p, h, m) for p, h, m in rows]

    async def communities_of(self, plant_ids: Iterable[int]) -> dict[int, set[int]]:
        """Per plant, every community it has a stay in (any date)."""
        periods = registry.plant_periods
        rows = await self.session.execute(
            select(periods.c.plant_id, periods.c.community_id)
            # An array, not an IN list: the worker asks for thousands of plants a round.
            .where(periods.c.plant_id == any_(bindparam("plant_ids", type_=ARRAY(BigInteger))))
            .distinct(),
            {"plant_ids": sorted(set(plant_ids))},
        )
        out: dict[int, set[int]] = {}
        for plant_id, community_id in rows:
            out.setdefault(plant_id, set()).add(community_id)
        return out

    async def community_ids(self) -> list[int]:
        periods = registry.plant_periods
        rows = await self.session.scalars(select(periods.c.community_id).distinct())
        return sorted(rows)

    async def first_day(self, community_id: int) -> date | None:
        periods = registry.plant_periods
        found: date | None = await self.session.scalar(
            select(func.min(periods.c.valid_from)).where(periods.c.community_id == community_id)
        )
        return found

    # ------------------------------------------------------------ writes

    async def mark(self, marks: Iterable[tuple[int, datetime]]) -> None:
        """Mark the plant-hours (again: ``marked_at`` moves on, see ``unmark``).

        One statement whatever the count, its text always the same (two arrays,
        unnested): a batch of the ingestion marks thousands of plant-hours, and
        a VALUES list of 2,500 cost SQLAlchemy ~55 ms of compiling per batch.
        Sorted, so two markers of overlapping hours lock rows in the same order."""
        unique = sorted(set(marks))
        if not unique:
            return
        await self.session.execute(
            _MARK,
            {"plant_ids": [p for p, _ in unique], "hours": [h for _, h in unique]},
        )

    async def unmark(self, marks: Sequence[tuple[int, datetime, datetime]]) -> None:
        """Drop the marks taken, unless marked again since (then they stay): a mark
        made after they were read is later than every mark read. One statement of
        two arrays, as ``mark``: an IN list of thousands of pairs was compiled anew
        each round."""
        if not marks:
            return
        await self.session.execute(
            _UNMARK,
            {
                "plant_ids": [p for p, _, _ in marks],
                "hours": [h for _, h, _ in marks],
                "read_up_to": max(m for _, _, m in marks),
            },
        )
        # In the same transaction: a reader sees the marks gone only with the new
        # version, so a plant's stamp never returns to what it was before its marks.
        await self.session.execute(_DROPPED, {"plant_ids": sorted({p for p, _, _ in marks})})

    async def replace_rows(
        self, community_id: int, start: datetime, end: datetime, rows: Sequence[HourRow]
    ) -> None:
        # Answers kept from the months' earlier rows are no longer current (hourly.reads).
        await self.session.execute(
            update(community_months)
            .where(
                community_months.c.community_id == community_id,
                community_months.c.month.in_(months_between(start, end)),
            )
            .values(rows_version=text(NEXT_ROWS_VERSION))
        )
        await self.session.execute(
            delete(community_hours).where(
                community_hours.c.community_id == community_id,
                community_hours.c.hour >= start,
                community_hours.c.hour < end,
            )
        )
        for first in range(0, len(rows), 2000):
            await self.session.execute(
                insert(community_hours),
                [
                    {"community_id": community_id, **asdict(row)}
                    for row in rows[first : first + 2000]
                ],
            )

    async def computed(self, community_id: int, month: date, digest: str) -> None:
        statement = insert(community_months).values(
            community_id=community_id, month=month, stays_sha256=digest
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["community_id", "month"],
                set_={
                    "stays_sha256": digest,
                    "computed_at": func.now(),
                    "rows_version": text(NEXT_ROWS_VERSION),
                },
            )
        )


# One round trip on the read pool: the months' digests and row versions, and the marks of
# the community's plants in the span (how many, the latest).
_STAMP = """
SELECT
  array(
    SELECT month::text || ' ' || stays_sha256 || ' ' || rows_version::text
    FROM community_months
    WHERE community_id = $1 AND month = ANY($2::date[])
    ORDER BY month
  ),
  count(*),
  max(marked_at)
FROM hourly_dirty
WHERE plant_id = ANY($3::bigint[]) AND hour >= $4 AND hour < $5
"""


@dataclass(frozen=True)
class HourlyStamp:
    """What a community's answer from the hourly sums over a span was computed from:
    per month its stays digest and rows version, and the marked hours of its plants
    (how many, the latest mark). Equal stamps, equal answers (hourly.reads)."""

    months: tuple[tuple[date, str, int], ...]
    marks: int
    last_mark: datetime | None

    def computed_with(self, digests: Mapping[date, str]) -> bool:
        """Whether every month of the span was computed with these stays."""
        return len(self.months) == len(digests) and all(
            digests.get(month) == digest for month, digest, _ in self.months
        )


async def hourly_stamp(
    pool: ReadPool,
    community_id: int,
    months: Sequence[date],
    plant_ids: Sequence[int],
    start: datetime,
    end: datetime,
) -> HourlyStamp:
    async with pool.acquire() as connection:
        row = await connection.fetchrow(
            _STAMP, community_id, list(months), list(plant_ids), start, end
        )
    assert row is not None  # an aggregate without GROUP BY has one row
    months_found = []
    for text_row in row[0]:
        month, digest, version = text_row.split(" ")
        months_found.append((date.fromisoformat(month), digest, int(version)))
    return HourlyStamp(tuple(months_found), int(row[1]), row[2])


# A plant's readings over a span: the version its dropped marks drew, and its marks in the
# span (how many, the latest). A reading or an import marks its plant-hours once stored and
# a mark only moves later; the worker drops marks and draws a version in one transaction.
_PLANT_STAMP = """
SELECT
  (SELECT version FROM plant_marks_dropped WHERE plant_id = $1),
  count(*),
  max(marked_at)
FROM hourly_dirty
WHERE plant_id = $1 AND hour >= $2 AND hour < $3
"""

PlantStamp = tuple[int | None, int, datetime | None]


async def plant_stamp(pool: ReadPool, plant_id: int, start: datetime, end: datetime) -> PlantStamp:
    """Equal stamps, equal readings of the plant in [start, end) (hour starts)."""
    async with pool.acquire() as connection:
        row = await connection.fetchrow(_PLANT_STAMP, plant_id, start, end)
    assert row is not None  # an aggregate without GROUP BY has one row
    return row[0], int(row[1]), row[2]
