"""The community's precomputed hourly sums (``hourly/``) on real PostgreSQL and
InfluxDB: the aggregates they give are the direct path's, bucket for bucket
(a plant joining mid-month, official data superseding iot in an hour, derived
exchange, the 23-hour day); an hour written since is computed at request time
until the worker takes it in; a month whose stays changed is not read until
computed again."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from energy_service.hourly.compute import month_span
from energy_service.hourly.models import community_hours, community_months
from energy_service.hourly.service import (
    compute_span,
    precomputed_buckets,
    process_dirty,
    refresh_months,
)
from energy_service.timeseries import EnergyPoint, InfluxTimeSeries
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import ReadModels, auth
from .test_aggregations import register

S1, S2 = "AC001E01234", "AC001E05678"
MARCH, APRIL = date(2025, 3, 1), date(2025, 4, 1)
START = datetime(2025, 2, 28, 23, 0, tzinfo=UTC)  # 1 March 2025, 00:00 in Rome
END = datetime(2025, 4, 30, 22, 0, tzinfo=UTC)  # 1 May 2025, 00:00 in Rome
# 30 March 2025, 10:00-11:00 CEST: official figures supersede the meter's.
OFFICIAL_HOUR = datetime(2025, 3, 30, 8, 0, tzinfo=UTC)
PATH = "/api/energy/aggregations/"
MAR, MAY = "2025-03-01T00:00:00+01:00", "2025-05-01T00:00:00+02:00"
QUERIES = [
    {"resolution": "hour", "start": "2025-03-29T00:00:00+01:00", "end": "2025-04-01T00:00:00Z"},
    {"resolution": "day", "start": MAR, "end": MAY},
    {"resolution": "month", "start": MAR, "end": MAY},
    {"resolution": "year", "start": MAR, "end": MAY},
]  # fmt: skip


class Community:
    def __init__(self, read_models: ReadModels) -> None:
        self.id = random.randrange(10**6, 10**9)
        self.manager = random.randrange(10**6, 10**9)
        self.read_models = read_models
        self.plants: dict[str, int] = {}

    async def setup(self, store: InfluxTimeSeries) -> None:
        await self.read_models.member(self.manager, self.id, role="ADMIN")
        owner = self.manager + 1
        self.plants = {
            "producer": await register(self.read_models, owner, S1, self.id),
            "consumer": await register(self.read_models, owner, S1, self.id),
            "far": await register(self.read_models, owner, S2, self.id),
            # Joins on 15 March: its energy before is not the community's.
            "late": await register(self.read_models, owner, S1, self.id, date(2025, 3, 15)),
        }
        rng = random.Random(self.id)
        points = []
        for h in range(int((END - START).total_seconds()) // 3600):
            end = START + timedelta(hours=h + 1)
            sun = 7 <= (h % 24) <= 16
            for name in ("producer", "late"):
                values = {"energy_fed_in_kwh": round(rng.uniform(0.5, 3), 3)} if sun else {
                    "energy_withdrawn_kwh": round(rng.uniform(0, 0.4), 3)
                }  # fmt: skip
                points.append(EnergyPoint(self.plants[name], "meter", "iot", end, values))
            # Only production and consumption meters: the exchange is derived.
            points.append(
                EnergyPoint(
                    self.plants["consumer"], "meter", "iot", end,
                    {"energy_produced_kwh": round(rng.uniform(0, 1), 3) if sun else 0.0,
                     "energy_consumed_kwh": round(rng.uniform(0.2, 1.5), 3)},
                )
            )  # fmt: skip
            if h % 7:  # some hours missing
                values = {"energy_withdrawn_kwh": round(rng.uniform(0.1, 2), 3)}
                points.append(EnergyPoint(self.plants["far"], "meter", "iot", end, values))
        end = OFFICIAL_HOUR + timedelta(hours=1)
        official = (
            ("producer", "energy_fed_in_kwh", 9.5),
            ("consumer", "energy_withdrawn_kwh", 7.25),
        )
        points += [
            EnergyPoint(self.plants[name], "official", "official", end, {field: kwh})
            for name, field, kwh in official
        ]
        await store.write(points)

    async def answers(self, client: httpx.AsyncClient) -> list[list[dict[str, Any]]]:
        out = []
        for query in QUERIES:
            for by, extra in (("community", {}), ("substation", {"primary_substation": S1})):
                response = await client.get(
                    PATH,
                    params={"by": by, "community_id": self.id, **extra, **query},
                    headers=auth(self.manager),
                )
                assert response.status_code == 200, response.text
                out.append(response.json()["data"])
        return out

    async def usable(
        self, session: AsyncSession, store: InfluxTimeSeries, end: datetime = END
    ) -> bool:
        found = await precomputed_buckets(
            session, store, self.id, START, end, "day", primary_substation=None
        )
        return found is not None

    async def forget(self, maker: async_sessionmaker[AsyncSession]) -> None:
        """Drop the months' digests: the service answers by the direct path."""
        async with maker() as session, session.begin():
            await session.execute(
                delete(community_months).where(community_months.c.community_id == self.id)
            )


async def compute(
    maker: async_sessionmaker[AsyncSession], store: InfluxTimeSeries, c: Community
) -> None:
    for month in (MARCH, APRIL):
        async with maker() as session, session.begin():
            await compute_span(session, store, c.id, month)
    while await process_dirty(maker, store):
        pass


def same(precomputed: list[list[dict[str, Any]]], direct: list[list[dict[str, Any]]]) -> None:
    assert len(precomputed) == len(direct)
    for mine, theirs in zip(precomputed, direct, strict=True):
        assert len(mine) == len(theirs)
        for a, b in zip(mine, theirs, strict=True):
            for key, value in b.items():
                if isinstance(value, float):
                    assert a[key] == pytest.approx(value, abs=1e-6), (key, a, b)
                else:
                    assert a[key] == value, (key, a, b)


async def test_precomputed_aggregates_equal_the_direct_path(
    client: httpx.AsyncClient,
    store: InfluxTimeSeries,
    read_models: ReadModels,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    c = Community(read_models)
    await c.setup(store)
    async with sessionmaker() as session:
        assert not await c.usable(session, store)  # nothing computed yet: the direct path
    direct = await c.answers(client)
    await compute(sessionmaker, store, c)
    async with sessionmaker() as session:
        assert await c.usable(session, store)
        rows = (
            await session.execute(
                select(community_hours.c.hour).where(community_hours.c.community_id == c.id)
            )
        ).all()
    assert 0 < len(rows) <= 2 * 1464  # two substations x the hours of March and April
    same(await c.answers(client), direct)
    # The official hour, as the rules want it: 9.5 fed in on S1 against 7.25
    # withdrawn there (the late plant too: it joined on the 15th).
    day = next(d for d in (await c.answers(client))[2] if d["start"] == "2025-03-30T00:00:00+01:00")
    assert day["coverage"]["official"] == 2


async def test_a_written_hour_is_computed_on_request_and_a_changed_stay_read_directly(
    client: httpx.AsyncClient,
    store: InfluxTimeSeries,
    read_models: ReadModels,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    c = Community(read_models)
    await c.setup(store)
    await compute(sessionmaker, store, c)
    # A corrected official figure for one hour of April: computed at request
    # time from the store until the worker takes it in.
    # An hour the far plant's meter missed (h % 7 == 0 in setup), so none of the
    # marks this test's transaction took in (and holds until rolled back) is
    # marked again: that would wait for the rollback.
    corrected = datetime(2025, 4, 10, 6, 0, tzinfo=UTC)
    assert int((corrected - START).total_seconds()) // 3600 % 7 == 1
    values = {"energy_withdrawn_kwh": 42.0}
    await store.write([EnergyPoint(c.plants["far"], "official", "official", corrected, values)])
    async with sessionmaker() as session:
        assert await c.usable(session, store)
        stale = await session.scalar(
            select(community_hours.c.official).where(
                community_hours.c.community_id == c.id,
                community_hours.c.hour == corrected - timedelta(hours=1),
                community_hours.c.primary_substation == S2,
            )
        )
    assert stale == 0  # the stored row does not know the official figure yet
    overlaid = await c.answers(client)
    tenth = next(d for d in overlaid[2] if d["start"] == "2025-04-10T00:00:00+02:00")
    assert tenth["coverage"]["official"] == 1
    while await process_dirty(sessionmaker, store):
        pass
    taken_in = await c.answers(client)
    same(overlaid, taken_in)
    await c.forget(sessionmaker)
    same(taken_in, await c.answers(client))
    await compute(sessionmaker, store, c)

    # A plant joins on 20 April: April is computed again, March still holds.
    await register(read_models, c.manager + 1, S2, c.id, date(2025, 4, 20))
    async with sessionmaker() as session:
        assert not await c.usable(session, store)
        assert await c.usable(session, store, end=month_span(MARCH)[1])
    direct = await c.answers(client)
    async with sessionmaker() as session, session.begin():
        await compute_span(session, store, c.id, APRIL)
    async with sessionmaker() as session:
        assert await c.usable(session, store)
    same(await c.answers(client), direct)


async def test_refresh_computes_the_months_never_computed_or_changed(
    store: InfluxTimeSeries,
    read_models: ReadModels,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    c = Community(read_models)
    await c.setup(store)
    # Only this community's months: the others in the database are computed too,
    # so the limit is generous and the check is on this one.
    await refresh_months(sessionmaker, store, months_back=3, limit=10_000, today=date(2025, 4, 15))
    async with sessionmaker() as session:
        months = await session.scalars(
            select(community_months.c.month).where(community_months.c.community_id == c.id)
        )
        assert sorted(months) == [date(2025, 1, 1), date(2025, 2, 1), MARCH, APRIL]
        await session.execute(
            delete(community_months).where(community_months.c.community_id == c.id)
        )
        await session.commit()
