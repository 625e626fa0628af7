"""The live tally on its own (no servers): what it counts and that its shared
energy is the aggregations' (the rules engine's) for the same readings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cerc_shared.readmodels import PlantStay
from energy_service.aggregation import aggregate
from energy_service.live import LiveTally, PlantDirectory, PlantPlace, places_of
from energy_service.quantities import SourceSums, settle
from energy_service.timeseries import EnergyPoint

# A daylight-saving day (23 hours) in Rome; "now" is 14:20 local (12:20 UTC).
DAY = date(2026, 3, 29)
NOW = datetime(2026, 3, 29, 12, 20, tzinfo=UTC)
COMMUNITY = 7


def tally(places: dict[int, str], now: datetime = NOW) -> LiveTally:
    directory = PlantDirectory()
    directory.merge(
        (plant_id, PlantPlace(COMMUNITY, substation, date(2025, 1, 1), None))
        for plant_id, substation in places.items()
    )
    return LiveTally(directory, clock=lambda: now.timestamp())


def stay(
    plant_id: int, community: int, substation: str | None, since: date, until: date | None
) -> PlantStay:
    """A plant's stay as the registry read model gives it (RegistryReader.plant_stays)."""
    return PlantStay(
        plant_id=plant_id,
        community_id=community,
        owner_user_id=1,
        valid_from=since,
        valid_to=until,
        pod=f"IT001E{plant_id:08d}",
        primary_substation=substation,
        market_zone="NORD",
        nominal_power_kw=None,
        technology="PV",
        entry_into_service=None,
        region=None,
        capital_grant_eur_per_kw=None,
    )


def point(
    plant_id: int, at: datetime, device: str = "d", source: str = "iot", **kwh: float
) -> EnergyPoint:
    return EnergyPoint(plant_id, device, source, at, {f"energy_{k}_kwh": v for k, v in kwh.items()})


def q(hour_utc: int, quarter: int) -> datetime:
    """The end of a quarter hour (readings are stamped at the end of their interval)."""
    return datetime(2026, 3, 29, hour_utc, 15 * quarter, tzinfo=UTC) + timedelta(minutes=15)


def test_shared_energy_is_the_min_per_substation_and_hour_never_netted_across() -> None:
    live = tally({1: "AC001", 2: "AC001", 3: "AC002"})
    live.add(
        [
            point(1, q(12, 0), fed_in=2.0, withdrawn=0.0),  # producer, AC001
            point(2, q(12, 0), fed_in=0.0, withdrawn=0.5),  # consumer, AC001
            point(3, q(12, 0), fed_in=0.0, withdrawn=3.0),  # consumer, AC002: nothing to share
        ]
    )
    view = live.snapshot(COMMUNITY)
    assert view["hour"]["shared_kwh"] == 0.5
    assert view["today"]["shared_kwh"] == 0.5
    assert view["today"]["fed_in_kwh"] == 2.0
    assert view["today"]["withdrawn_kwh"] == 3.5
    by_substation = {s["primary_substation"]: s for s in view["today"]["substations"]}
    assert by_substation["AC001"]["shared_kwh"] == 0.5
    assert by_substation["AC002"]["shared_kwh"] == 0.0
    assert view["hour"]["start"] == "2026-03-29T14:00:00+02:00"


def test_exchange_is_derived_per_quarter_hour_when_not_measured() -> None:
    live = tally({1: "AC001", 2: "AC001"})
    live.add(
        [
            # Quarter 1: production 1.0, consumption 0.2 -> 0.8 fed in.
            point(1, q(12, 0), device="pv", produced=1.0),
            point(1, q(12, 0), device="load", consumed=0.2),
            # Quarter 2: production 0, consumption 0.6 -> 0.6 withdrawn (not netted to 0.2).
            point(1, q(12, 1), device="load", consumed=0.6),
            point(2, q(12, 1), withdrawn=1.0),
        ]
    )
    today = live.snapshot(COMMUNITY)["today"]
    assert today["fed_in_kwh"] == pytest.approx(0.8)
    assert today["withdrawn_kwh"] == pytest.approx(1.6)
    assert today["self_consumption_kwh"] == pytest.approx(0.2)
    assert today["shared_kwh"] == 0.8


def test_a_redelivered_batch_counts_once() -> None:
    live = tally({1: "AC001"})
    batch = [point(1, q(12, 0), fed_in=1.0), point(1, q(12, 1), fed_in=1.0)]
    live.add(batch)
    live.add(batch)
    assert live.snapshot(COMMUNITY)["today"]["fed_in_kwh"] == 2.0
    assert live.readings_counted == 2


def test_only_todays_iot_readings_of_known_plants_count() -> None:
    live = tally({1: "AC001"})
    live.add(
        [
            point(1, q(12, 0), source="official", fed_in=5.0),
            point(9, q(12, 0), fed_in=5.0),  # a plant the directory does not know
            point(1, datetime(2026, 3, 28, 23, 0, tzinfo=UTC), fed_in=5.0),  # 00:00 ends yesterday
            point(1, datetime(2026, 3, 28, 23, 15, tzinfo=UTC), fed_in=1.0),  # 00:15: today
        ]
    )
    today = live.snapshot(COMMUNITY)["today"]
    assert today["fed_in_kwh"] == 1.0
    assert live.snapshot(COMMUNITY)["hour"]["fed_in_kwh"] == 0.0


def test_a_plant_outside_its_period_is_not_counted() -> None:
    directory = PlantDirectory()
    directory.merge([(1, PlantPlace(COMMUNITY, "AC001", date(2026, 4, 1), None))])
    live = LiveTally(directory, clock=lambda: NOW.timestamp())
    live.add([point(1, q(12, 0), fed_in=1.0)])
    assert live.snapshot(COMMUNITY)["today"]["fed_in_kwh"] == 0.0


def test_a_plant_that_moved_counts_in_the_community_of_todays_stay() -> None:
    """The registry's stays of one plant: in COMMUNITY until yesterday, in the
    next one from today; today's readings are the new community's only."""
    directory = PlantDirectory()
    directory.merge(
        places_of(
            [
                stay(1, COMMUNITY, "AC001", date(2025, 1, 1), DAY),
                stay(1, COMMUNITY + 1, None, DAY, None),
            ]
        )
    )
    live = LiveTally(directory, clock=lambda: NOW.timestamp())
    live.add([point(1, q(12, 0), fed_in=1.0)])
    assert live.snapshot(COMMUNITY)["today"]["fed_in_kwh"] == 0.0
    moved = live.snapshot(COMMUNITY + 1)["today"]
    assert moved["fed_in_kwh"] == 1.0
    # A plant without a known substation is counted under "", as the aggregations do.
    assert [s["primary_substation"] for s in moved["substations"]] == [""]


def test_a_stay_that_ends_is_updated_in_place_not_doubled() -> None:
    directory = PlantDirectory()
    directory.merge(places_of([stay(1, COMMUNITY, "AC001", date(2025, 1, 1), None)]))
    # The plant left the community on the day: the read model closes the same stay.
    directory.reload(places_of([stay(1, COMMUNITY, "AC001", date(2025, 1, 1), DAY)]))
    live = LiveTally(directory, clock=lambda: NOW.timestamp())
    live.add([point(1, q(12, 0), fed_in=1.0)])
    assert live.snapshot(COMMUNITY)["today"]["fed_in_kwh"] == 0.0


def test_the_day_rolls_over_at_local_midnight() -> None:
    now = [NOW]
    directory = PlantDirectory()
    directory.merge([(1, PlantPlace(COMMUNITY, "AC001", date(2025, 1, 1), None))])
    live = LiveTally(directory, clock=lambda: now[0].timestamp())
    live.add([point(1, q(12, 0), fed_in=1.0)])
    now[0] = datetime(2026, 3, 29, 22, 5, tzinfo=UTC)  # 00:05 on the 30th in Rome
    view = live.snapshot(COMMUNITY)
    assert view["day"] == "2026-03-30"
    assert view["today"]["fed_in_kwh"] == 0.0


async def test_watchers_are_woken_only_for_their_community() -> None:
    directory = PlantDirectory()
    directory.merge(
        [
            (1, PlantPlace(COMMUNITY, "AC001", date(2025, 1, 1), None)),
            (2, PlantPlace(COMMUNITY + 1, "AC001", date(2025, 1, 1), None)),
        ]
    )
    live = LiveTally(directory, clock=lambda: NOW.timestamp())
    mine, other = live.watch(COMMUNITY), live.watch(COMMUNITY + 1)
    mine.clear()
    other.clear()
    live.add([point(1, q(12, 0), fed_in=1.0)])
    assert mine.is_set() and not other.is_set()
    live.unwatch(COMMUNITY, mine)


def test_the_day_agrees_with_the_aggregations_over_the_same_readings() -> None:
    """Many plants, quarters and substations: the tally's figures for today are
    what aggregation.aggregate (the rules engine's shared energy) gives."""
    import random

    rng = random.Random(13)
    substations = {p: f"AC00{p % 3}" for p in range(1, 13)}
    points = []
    for plant_id in substations:
        for hour in range(8, 16):
            for quarter in range(4):
                if plant_id % 2:
                    points.append(point(plant_id, q(hour, quarter), produced=rng.uniform(0, 2)))
                    points.append(
                        point(plant_id, q(hour, quarter), device="l", consumed=rng.uniform(0, 1))
                    )
                else:
                    points.append(point(plant_id, q(hour, quarter), withdrawn=rng.uniform(0, 1.5)))
    ordered = sorted(points, key=lambda p: p.timestamp)
    live = tally(substations, now=datetime(2026, 3, 29, 21, 50, tzinfo=UTC))
    for start in range(0, len(ordered), 50):  # as the ingester hands them over, in batches
        live.add(ordered[start : start + 50])
    assert live.readings_counted == len(ordered)
    view = live.snapshot(COMMUNITY)["today"]
    quarters = []
    for p in ordered:
        v = p.values
        quarters.append(
            (
                p.plant_id,
                p.timestamp - timedelta(minutes=15),
                SourceSums(
                    "iot",
                    v.get("energy_produced_kwh"),
                    v.get("energy_consumed_kwh"),
                    v.get("energy_fed_in_kwh"),
                    v.get("energy_withdrawn_kwh"),
                ),
            )
        )
    plants = [stay(p, COMMUNITY, s, date(2025, 1, 1), None) for p, s in substations.items()]
    start = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    buckets = aggregate(
        plants, _merged(quarters), start, start + timedelta(hours=23), "day", with_shared=True
    )
    assert len(buckets) == 1
    bucket = buckets[0]
    assert view["shared_kwh"] == (bucket.shared_wh or 0) / 1000
    assert view["fed_in_kwh"] == pytest.approx(bucket.fed_in_kwh)
    assert view["withdrawn_kwh"] == pytest.approx(bucket.withdrawn_kwh)
    assert view["self_consumption_kwh"] == pytest.approx(bucket.self_consumption_kwh)
    assert view["shared_kwh"] > 0


def _merged(quarters: list[tuple[int, datetime, SourceSums]]) -> Any:
    """One SourceSums per plant and quarter (the store sums a quarter's readings)."""
    merged: dict[tuple[int, datetime], list[float | None]] = {}
    for plant_id, start, s in quarters:
        slot = merged.setdefault((plant_id, start), [None, None, None, None])
        for i, value in enumerate((s.produced_kwh, s.consumed_kwh, s.fed_in_kwh, s.withdrawn_kwh)):
            if value is not None:
                slot[i] = (slot[i] or 0.0) + value
    return settle((p, t, SourceSums("iot", *v)) for (p, t), v in merged.items())
