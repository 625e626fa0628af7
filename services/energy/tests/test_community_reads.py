"""A community's aggregates kept as response bodies (``hourly/reads.py``): served
again only while the hourly rows, the marked hours and the stays they were
computed from are unchanged, and only to a caller who may read them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from cerc_shared.events.cer import MembershipEnded, MembershipStarted
from energy_service.api import aggregations
from energy_service.hourly.compute import month_span
from energy_service.hourly.repository import hourly_stamp
from energy_service.hourly.service import community_stays, compute_span, process_dirty
from energy_service.timeseries import EnergyPoint, InfluxTimeSeries
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import ReadModels, auth
from .test_aggregations import register
from .test_community_hours import APRIL, START, Community, compute

PATH = "/api/energy/aggregations/"
APRIL_BY_DAY = {
    "resolution": "day",
    "start": "2025-04-01T00:00:00+02:00",
    "end": "2025-05-01T00:00:00+02:00",
}


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many answers were computed from the hourly sums (not served as kept)."""
    calls: list[int] = []
    original = aggregations.precomputed_buckets

    async def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await original(*args, **kwargs)

    monkeypatch.setattr(aggregations, "precomputed_buckets", counting)
    return calls


async def april(
    client: httpx.AsyncClient, c: Community, user: int | None = None, **extra: Any
) -> httpx.Response:
    return await client.get(
        PATH,
        params={"by": "community", "community_id": c.id, **APRIL_BY_DAY, **extra},
        headers=auth(c.manager if user is None else user),
    )


def day(response: httpx.Response, start: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    found: dict[str, Any] = next(d for d in response.json()["data"] if d["start"] == start)
    return found


async def test_a_kept_answer_is_served_until_a_reading_changes_the_month(
    client: httpx.AsyncClient,
    store: InfluxTimeSeries,
    read_models: ReadModels,
    sessionmaker: async_sessionmaker[AsyncSession],
    computed: list[int],
) -> None:
    c = Community(read_models)
    await c.setup(store)
    await compute(sessionmaker, store, c)
    first = await april(client, c)
    assert first.status_code == 200
    assert len(computed) == 1
    again = await april(client, c)
    assert again.content == first.content
    assert len(computed) == 1  # served as kept
    # An official figure for an hour of 12 April (an hour the far meter missed, so no
    # mark this test's transaction took in is marked again): the kept answer is not served.
    corrected = datetime(2025, 4, 12, 7, 0, tzinfo=UTC)
    assert int((corrected - START).total_seconds()) // 3600 % 7 == 1
    await store.write(
        [EnergyPoint(c.plants["far"], "official", "official", corrected,
                     {"energy_withdrawn_kwh": 42.0})]
    )  # fmt: skip
    fresh = await april(client, c)
    assert len(computed) == 2
    assert day(fresh, "2025-04-12T00:00:00+02:00")["coverage"]["official"] == 1
    assert day(first, "2025-04-12T00:00:00+02:00")["coverage"]["official"] == 0
    # Taken in by the worker (rows replaced, marks dropped): computed once more, same answer,
    # then kept again.
    while await process_dirty(sessionmaker, store):
        pass
    taken_in = await april(client, c)
    assert len(computed) == 3
    assert taken_in.json() == fresh.json()
    assert (await april(client, c)).content == taken_in.content
    assert len(computed) == 3


async def test_the_stamp_never_comes_back_to_an_earlier_state(
    store: InfluxTimeSeries,
    read_models: ReadModels,
    sessionmaker: async_sessionmaker[AsyncSession],
    app: FastAPI,
) -> None:
    """Marked, taken in, unmarked: the marks are as before, the rows are not, and the
    stamp says so (a kept answer from before the reading is never served again)."""
    c = Community(read_models)
    await c.setup(store)
    await compute(sessionmaker, store, c)
    start, end = month_span(APRIL)
    ids = sorted(c.plants.values())
    before = await hourly_stamp(app.state.read_pool, c.id, [APRIL], ids, start, end)
    assert before.marks == 0 and len(before.months) == 1
    corrected = datetime(2025, 4, 19, 7, 0, tzinfo=UTC)
    assert int((corrected - START).total_seconds()) // 3600 % 7 == 1
    await store.write(
        [EnergyPoint(c.plants["far"], "official", "official", corrected,
                     {"energy_withdrawn_kwh": 7.0})]
    )  # fmt: skip
    marked = await hourly_stamp(app.state.read_pool, c.id, [APRIL], ids, start, end)
    assert marked.marks == 1 and marked != before
    while await process_dirty(sessionmaker, store):
        pass
    after = await hourly_stamp(app.state.read_pool, c.id, [APRIL], ids, start, end)
    assert after.marks == 0
    assert after != before  # the rows' version was drawn again
    assert after.months[0][2] > before.months[0][2]


async def test_a_changed_stay_is_seen_at_once(
    client: httpx.AsyncClient,
    store: InfluxTimeSeries,
    read_models: ReadModels,
    sessionmaker: async_sessionmaker[AsyncSession],
    computed: list[int],
) -> None:
    c = Community(read_models)
    await c.setup(store)
    await compute(sessionmaker, store, c)
    kept = await april(client, c)
    assert (await april(client, c)).content == kept.content
    # A plant joins on 20 April: the months' digests no longer match, the answer is the
    # direct path's (one more active point from the 20th) until April is computed again.
    late = await register(read_models, c.manager + 1, "AC001E05678", c.id, date(2025, 4, 20))
    direct = await april(client, c)
    expected_missing = day(kept, "2025-04-25T00:00:00+02:00")["coverage"]["missing"] + 24
    assert day(direct, "2025-04-25T00:00:00+02:00")["coverage"]["missing"] == expected_missing
    async with sessionmaker() as session, session.begin():
        await compute_span(session, store, c.id, APRIL)
    recomputed = await april(client, c)
    assert recomputed.json() == direct.json()
    async with sessionmaker() as session:
        stays = await community_stays(session, c.id, *month_span(APRIL))
    assert late in {s.plant_id for s in stays}


@pytest.mark.parametrize("who", ["revoked manager", "other community's manager", "member"])
async def test_a_kept_answer_is_not_served_to_whoever_may_not_read_it(
    client: httpx.AsyncClient,
    store: InfluxTimeSeries,
    read_models: ReadModels,
    sessionmaker: async_sessionmaker[AsyncSession],
    who: str,
) -> None:
    c = Community(read_models)
    await c.setup(store)
    await compute(sessionmaker, store, c)
    # A second manager, whose ADMIN membership this test may end.
    deputy = c.manager + 5
    facts: dict[str, Any] = {
        "membership_id": c.id + 5, "community_id": c.id, "user_id": deputy, "role": "ADMIN",
        "member_type": "PRIVATE", "body_type": "NONE", "valid_from": date(2024, 1, 1),
        "valid_to": None,
    }  # fmt: skip
    await read_models.deliver(MembershipStarted(**facts))
    for _ in range(2):  # computed, then kept
        assert (await april(client, c, user=deputy)).status_code == 200
    caller = deputy
    if who == "revoked manager":
        # Ended before today: the next request is refused, the kept answer not served.
        await read_models.deliver(MembershipEnded(**{**facts, "valid_to": date(2025, 1, 2)}))
    elif who == "other community's manager":
        caller = c.manager + 7
        await read_models.member(caller, c.id + 1, role="ADMIN")
    else:
        caller = c.manager + 1  # owns plants in the community, manages nothing
    refused = await april(client, c, user=caller)
    assert refused.status_code == 404, refused.text
    assert refused.json()["errors"][0]["code"] == "not_found"
    substation = await client.get(
        PATH,
        params={"by": "substation", "community_id": c.id, "primary_substation": "AC001E01234",
                **APRIL_BY_DAY},
        headers=auth(caller),
    )  # fmt: skip
    assert substation.status_code == 404
    # The manager still reads it.
    assert (await april(client, c)).status_code == 200
