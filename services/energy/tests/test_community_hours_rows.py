"""The hourly rows and the buckets built from them against ``aggregation.aggregate``
(the direct path), without servers: random stays (joining and leaving
mid-month), random settled plant-hours from several sources, the DST months."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import get_args

import pytest
from cerc_shared.readmodels import PlantStay
from energy_service.aggregation import AggregateResolution, Bucket, aggregate
from energy_service.hourly.compute import (
    buckets_of,
    columns_of,
    hour_rows,
    month_span,
    stays_digest,
)
from energy_service.quantities import IntervalQuantities

SUBSTATIONS = ("AC1", "AC2", None)


def stay(
    plant_id: int, substation: str | None, valid_from: date, valid_to: date | None
) -> PlantStay:
    return PlantStay(
        plant_id=plant_id, community_id=1, owner_user_id=plant_id, valid_from=valid_from,
        valid_to=valid_to, pod=f"IT001E{plant_id:08d}", primary_substation=substation,
        market_zone="NORD", nominal_power_kw=Decimal("6"), technology="PV",
        entry_into_service=date(2024, 1, 1), region="Lombardia",
        capital_grant_eur_per_kw=Decimal("0"),
    )  # fmt: skip


def community(rng: random.Random) -> list[PlantStay]:
    stays = []
    for plant_id in range(1, 13):
        substation = SUBSTATIONS[plant_id % 3]
        if plant_id % 4 == 0:  # joins mid-March
            stays.append(stay(plant_id, substation, date(2025, 3, rng.randrange(2, 28)), None))
        elif plant_id % 4 == 1:  # leaves in October, comes back in November
            stays.append(stay(plant_id, substation, date(2025, 1, 1), date(2025, 10, 9)))
            stays.append(stay(plant_id, substation, date(2025, 11, 3), None))
        else:
            stays.append(stay(plant_id, substation, date(2024, 6, 1), None))
    return stays


def settled(rng: random.Random, start: datetime, end: datetime) -> list[IntervalQuantities]:
    out = []
    for at in range(int(start.timestamp()), int(end.timestamp()), 3600):
        for plant_id in range(1, 14):  # plant 13 is not the community's
            if rng.random() < 0.15:
                continue  # missing
            produced = rng.choice([0.0, round(rng.uniform(0, 3), 3)])
            fed_in = round(rng.uniform(0, produced), 3)
            out.append(
                IntervalQuantities(
                    plant_id, datetime.fromtimestamp(at, UTC),
                    rng.choice(["official", "manual", "iot", "iot"]), produced,
                    round(rng.uniform(0, 2), 3), fed_in, round(rng.uniform(0, 1.5), 3),
                    rng.choice(["measured", "derived", "mixed", "none"]),
                )
            )  # fmt: skip
    return out


def same(mine: list[Bucket], theirs: list[Bucket]) -> None:
    assert [(b.start, b.end) for b in mine] == [(b.start, b.end) for b in theirs]
    for a, b in zip(mine, theirs, strict=True):
        for name in ("produced_kwh", "consumed_kwh", "fed_in_kwh", "withdrawn_kwh"):
            assert getattr(a, name) == pytest.approx(getattr(b, name), abs=1e-9)
        assert a.self_consumption_kwh == pytest.approx(b.self_consumption_kwh, abs=1e-9)
        assert (a.shared_wh, a.shared_configuration_wh) == (b.shared_wh, b.shared_configuration_wh)
        assert a.coverage == b.coverage
        assert a.exchange == b.exchange


@pytest.mark.parametrize("seed", [1, 2])
def test_rows_give_the_direct_paths_buckets(seed: int) -> None:
    rng = random.Random(seed)
    stays = community(rng)
    # March (23-hour day) to November (25-hour day in October).
    start, end = month_span(date(2025, 3, 1))[0], month_span(date(2025, 11, 1))[1]
    items = settled(rng, start, end)
    rows = [
        row
        for month in range(3, 12)
        for row in hour_rows(stays, items, *month_span(date(2025, month, 1)))
    ]
    for resolution in get_args(AggregateResolution):
        if resolution == "15min":
            continue
        same(
            buckets_of(columns_of(rows), start, end, resolution, with_shared=True),
            aggregate(stays, items, start, end, resolution, with_shared=True),
        )
    for substation in ("AC1", ""):
        mine = [r for r in rows if r.primary_substation == substation]
        theirs = [s for s in stays if (s.primary_substation or "") == substation]
        same(
            buckets_of(columns_of(mine), start, end, "day", with_shared=True),
            aggregate(theirs, items, start, end, "day", with_shared=True),
        )


def test_hours_replaced_in_the_columns() -> None:
    rng = random.Random(4)
    stays = community(rng)
    start, end = month_span(date(2025, 4, 1))
    before, after = settled(rng, start, end), settled(rng, start, end)
    low, high = start + timedelta(days=3), start + timedelta(days=4, hours=5)
    mixed = [i for i in before if not low <= i.start < high] + [
        i for i in after if low <= i.start < high
    ]
    overlaid = columns_of(hour_rows(stays, before, start, end)).outside(low, high)
    overlaid = overlaid.plus(columns_of(hour_rows(stays, after, low, high)))
    same(
        buckets_of(overlaid, start, end, "day", with_shared=True),
        aggregate(stays, mixed, start, end, "day", with_shared=True),
    )


def test_the_digest_changes_with_the_days_a_plant_counts_in_the_month() -> None:
    stays = community(random.Random(3))
    march, april = date(2025, 3, 1), date(2025, 4, 1)
    joined = [*stays, stay(99, "AC1", date(2025, 4, 20), None)]
    assert stays_digest(joined, march) == stays_digest(stays, march)
    assert stays_digest(joined, april) != stays_digest(stays, april)
    moved = [stay(99, "AC2", date(2025, 4, 20), None)]
    assert stays_digest(stays + moved, april) != stays_digest(joined, april)
