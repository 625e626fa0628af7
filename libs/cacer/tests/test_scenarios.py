"""Hand-computed settlements, end to end through `parse_scenario` and `settle`.

Every expected figure is worked out in the comments from cer-rules.md, never by the code.
TRASe is 10.57 €/MWh throughout; distribution shares 0.45 / 0.30 / 0.25.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cacer import Settlement
from cacer_scenarios import (
    ROME,
    at,
    document,
    member,
    plant,
    point,
    price,
    reading,
    settle_document,
)

DAY = "2025-06-01"
PV = "IT001E00000001"
HOME = "IT001E00000002"


def by_id(s: Settlement) -> dict[str, Any]:
    return {m.id: m for m in s.members}


def test_one_substation_one_plant() -> None:
    doc = document(
        members=[member("prod"), member("cons")],
        points=[point(PV, "prod", plant=plant(100)), point(HOME, "cons")],
        readings=[
            reading(PV, at(DAY, 10), fed=40),
            reading(HOME, at(DAY, 10), withdrawn=30),
            reading(PV, at(DAY, 11), fed=20),
            reading(HOME, at(DAY, 11), withdrawn=50),
            reading(PV, at(DAY, 12), fed=10),  # nobody consumes: no price needed at 12:00
        ],
        prices=[price(at(DAY, 10), 110), price(at(DAY, 11), 170)],
    )
    s = settle_document(doc)
    # 10:00 min(40, 30) = 30 kWh at TIP min(120; 80+70)+10 = 130
    # 11:00 min(20, 50) = 20 kWh at TIP (80+10)+10 = 100; 12:00 min(10, 0) = 0
    assert s.shared_energy_wh == 50_000
    assert s.zone_shared_energy_wh == 50_000
    # incentive 30 × 0.130 + 20 × 0.100 = 3.90 + 2.00 = 5.90 €
    assert s.incentive_cents == 590
    # refund 50 kWh × 10.57 €/MWh = 0.5285 € -> 0.53
    assert s.refund_cents == 53
    assert s.total_cents == 643
    (p,) = s.plants
    assert (p.fed_in_wh, p.shared_energy_wh, p.incentive_cents, p.refund_cents) == (
        70_000,
        50_000,
        590,
        53,
    )
    # r = 50 / 70 = 0.7142857; excess = (5/7 − 0.55) × 5.90 = 0.9692857 € -> 0.97
    (e,) = s.excess
    assert e.set.value == "tip"
    assert e.excess_cents == 97
    # rest 643 − 97 = 546: 245.7 / 163.8 / 136.5 -> floors 245/163/136 (544), 2 cents left to
    # the largest remainders .8 (consumers) and .7 (producers) -> 246 / 164 / 136
    members = by_id(s)
    assert members["prod"].as_producer_cents == 246
    assert members["prod"].as_consumer_cents == 0
    # the only consumer: contribution 30×30/30 + 50×20/50 = 50 kWh; 164 + excess 97 = 261
    assert members["cons"].contribution_wh == 50_000
    assert members["cons"].as_consumer_cents == 261
    assert s.community_cents == 136
    assert sum(m.cents for m in s.members) + s.community_cents == s.total_cents


def test_two_substations_only_one_with_consumers() -> None:
    pv_b = "IT001E00000003"
    doc = document(
        members=[member("a"), member("b"), member("c")],
        points=[
            point(PV, "a", substation="AC001E00001", plant=plant(100)),
            point(HOME, "c", substation="AC001E00001"),
            point(pv_b, "b", substation="AC001E00002", plant=plant(100)),
        ],
        readings=[
            reading(PV, at(DAY, 10), fed=10),
            reading(pv_b, at(DAY, 10), fed=30),
            reading(HOME, at(DAY, 10), withdrawn=25),
        ],
        prices=[price(at(DAY, 10), 110)],
    )
    s = settle_document(doc)
    # substation 1: min(10, 25) = 10; substation 2: min(30, 0) = 0; zone: min(40, 25) = 25
    assert s.shared_energy_wh == 10_000
    assert s.zone_shared_energy_wh == 25_000
    sub1, sub2 = s.substations
    assert (sub1.code, sub1.shared_energy_wh, sub2.code, sub2.shared_energy_wh) == (
        "AC001E00001",
        10_000,
        "AC001E00002",
        0,
    )
    # only substation 1 earns: 10 kWh × 130 €/MWh = 1.30 €; refund 10 × 10.57/1000 = 0.1057 -> 0.11
    assert (sub1.incentive_cents, sub1.refund_cents) == (130, 11)
    assert (sub2.incentive_cents, sub2.refund_cents) == (0, 0)
    assert (s.incentive_cents, s.refund_cents) == (130, 11)
    assert [p.shared_energy_wh for p in s.plants] == [10_000, 0]
    # the plant of substation 2 gets no producer share: it shares nothing
    assert by_id(s)["b"].cents == 0


def test_plants_of_different_classes_and_ages_compete_in_scarce_hours() -> None:
    pods = {name: f"IT001E0000010{k}" for k, name in enumerate(["P1", "P2", "P3", "P4", "P5"])}
    cons = "IT001E00000200"
    plants = {
        "P1": plant(50, entry="2020-03-01"),  # existing: refund only; oldest
        "P2": plant(300, entry="2022-06-01"),  # 70 / 110, +10
        "P3": plant(800, entry="2023-01-15"),  # 60 / 100, +10
        "P4": plant(100, entry="2024-02-01"),  # 80 / 120, +10; youngest
        "P5": plant(1500, entry="2024-01-01"),  # over 1 MW: refund only
    }
    fed = {  # kWh per hour 10, 11, 12
        "P1": (5, 10, 10),
        "P2": (20, 10, 10),
        "P3": (30, 10, 10),
        "P4": (40, 10, 10),
        "P5": (25, 10, 10),
    }
    withdrawn = (60, 35, 100)
    pz = (110, 150, 60)
    readings = [reading(pods[n], at(DAY, 10 + h), fed=fed[n][h]) for n in fed for h in range(3)] + [
        reading(cons, at(DAY, 10 + h), withdrawn=withdrawn[h]) for h in range(3)
    ]
    doc = document(
        members=[member(n) for n in pods] + [member("c")],
        # listed youngest first, so the order must come from the dates
        points=[point(pods[n], n, plant=plants[n]) for n in ["P4", "P5", "P3", "P2", "P1"]]
        + [point(cons, "c")],
        readings=readings,
        prices=[price(at(DAY, 10 + h), pz[h]) for h in range(3)],
    )
    s = settle_document(doc)
    # Oldest first: P1 (2020), P2 (2022-06), P3 (2023-01), P5 (2024-01-01), P4 (2024-02-01)
    # 10:00 shared min(120, 60) = 60: P1 5, P2 20, P3 30, P5 5, P4 0
    # 11:00 shared min(50, 35) = 35: P1 10, P2 10, P3 10, P5 5, P4 0
    # 12:00 shared min(50, 100) = 50: 10 each
    got = {p.pod: p for p in s.plants}
    attributed = {n: got[pods[n]].shared_energy_wh for n in pods}
    assert attributed == {"P1": 25_000, "P2": 40_000, "P3": 50_000, "P4": 10_000, "P5": 20_000}
    assert s.shared_energy_wh == 145_000
    # P2 TIP: 10:00 min(110; 70+70)+10 = 120; 11:00 min(110; 70+30)+10 = 110; 12:00 110+10 = 120
    #   (20×120 + 10×110 + 10×120)/1000 = 4.70 €
    # P3 TIP: 10:00 min(100; 60+70)+10 = 110; 11:00 (60+30)+10 = 100; 12:00 100+10 = 110
    #   (30×110 + 10×100 + 10×110)/1000 = 5.40 €
    # P4 TIP: 12:00 min(120; 80+120)+10 = 130 -> 10 × 130 / 1000 = 1.30 €
    incentives = {n: got[pods[n]].incentive_cents for n in pods}
    assert incentives == {"P1": 0, "P2": 470, "P3": 540, "P4": 130, "P5": 0}
    assert s.incentive_cents == 1140
    assert s.incentivised_shared_energy_wh == 100_000
    # refunds 10.57 €/MWh: P1 25 kWh 0.26425 -> 0.26; P2 40 0.4228 -> 0.42; P3 50 0.5285 -> 0.53;
    # P4 10 0.1057 -> 0.11; P5 20 0.2114 -> 0.21; total 1.53
    refunds = {n: got[pods[n]].refund_cents for n in pods}
    assert refunds == {"P1": 26, "P2": 42, "P3": 53, "P4": 11, "P5": 21}
    assert s.refund_cents == 153
    # excess, set "tip" (P2, P3, P4): r = 100 / (40 + 50 + 60) = 2/3;
    # (2/3 − 0.55) × 11.40 = 7/60 × 11.40 = 1.33 €
    (e,) = s.excess
    assert (e.set.value, e.excess_cents) == ("tip", 133)
    assert sum(m.cents for m in s.members) + s.community_cents == s.total_cents == 1293


def _quarter_hour_day(day: str, next_day: str) -> tuple[dict[str, Any], int]:
    """Every hour: the plant feeds 1+1 kWh in the first two quarters, the home withdraws 1+1 in
    the last two. A min per quarter would give 0; summed to the hour first it is 2 kWh."""
    y, m, d = (int(x) for x in day.split("-"))
    start = datetime(y, m, d, tzinfo=ROME).astimezone(UTC)
    y2, m2, d2 = (int(x) for x in next_day.split("-"))
    end = datetime(y2, m2, d2, tzinfo=ROME).astimezone(UTC)
    hours = int((end - start).total_seconds()) // 3600
    readings = []
    prices = []
    for h in range(hours):
        hour_start = start + timedelta(hours=h)
        prices.append(price(hour_start.astimezone(ROME).isoformat(), 110))
        for q in range(4):
            t = (hour_start + timedelta(minutes=15 * q)).astimezone(ROME).isoformat()
            readings.append(reading(PV, t, fed=1.0 if q < 2 else 0.0, minutes=15))
            readings.append(reading(HOME, t, withdrawn=1.0 if q >= 2 else 0.0, minutes=15))
    doc = document(
        members=[member("prod"), member("cons")],
        points=[point(PV, "prod", plant=plant(20)), point(HOME, "cons")],
        readings=readings,
        prices=prices,
        start=day,
        end=next_day,
    )
    return doc, hours


def test_fifteen_minute_day_of_23_hours_in_march() -> None:
    doc, hours = _quarter_hour_day("2025-03-30", "2025-03-31")
    assert hours == 23
    s = settle_document(doc)
    labels = s.hourly.grid.local_labels()
    assert len(labels) == 23
    # 02:00 does not exist that night: 01:00+01:00 is followed by 03:00+02:00
    assert labels[1:3] == ["2025-03-30T01:00:00+01:00", "2025-03-30T03:00:00+02:00"]
    # 23 hours × 2 kWh = 46 kWh; × 130 €/MWh = 5.98 €; refund 46 × 10.57/1000 = 0.48622 -> 0.49
    assert s.shared_energy_wh == 46_000
    assert (s.incentive_cents, s.refund_cents) == (598, 49)
    assert all(s.hourly.substation_shared_wh[0] == 2000)


def test_fifteen_minute_day_of_25_hours_in_october() -> None:
    doc, hours = _quarter_hour_day("2025-10-26", "2025-10-27")
    assert hours == 25
    s = settle_document(doc)
    labels = s.hourly.grid.local_labels()
    # 02:00 happens twice, first in summer time, then in winter time
    assert labels[2:4] == ["2025-10-26T02:00:00+02:00", "2025-10-26T02:00:00+01:00"]
    # 25 hours × 2 kWh = 50 kWh; × 130 €/MWh = 6.50 €; refund 50 × 10.57/1000 = 0.5285 -> 0.53
    assert s.shared_energy_wh == 50_000
    assert (s.incentive_cents, s.refund_cents) == (650, 53)


def test_public_body_consumer_with_a_granted_plant() -> None:
    town = "IT001E00000005"
    shop = "IT001E00000006"
    doc = document(
        members=[
            member("solar"),
            member("comune", public_body=True),
            member("shop", enterprise=True),
        ],
        points=[
            # 100 kW: cost cap 1,200 €/kW; grant 480 = 40% -> F = 0.5
            point(PV, "solar", plant=plant(100, grant=480)),
            point(town, "comune"),
            point(shop, "shop"),
        ],
        readings=[
            reading(PV, at(DAY, 10), fed=30),
            reading(town, at(DAY, 10), withdrawn=10),
            reading(shop, at(DAY, 10), withdrawn=30),
            reading(PV, at(DAY, 11), fed=10),
            reading(shop, at(DAY, 11), withdrawn=20),
        ],
        prices=[price(at(DAY, 10), 110), price(at(DAY, 11), 170)],
    )
    s = settle_document(doc)
    # 10:00 shared 30 kWh, TIP before F 130; the comune withdraws 10 of 40 -> 7.5 kWh without F,
    #   22.5 kWh with F: 7.5 × 0.130 + 22.5 × 0.065 = 0.975 + 1.4625 = 2.4375 €
    # 11:00 shared 10 kWh, TIP before F 100, no public withdrawal: 10 × 0.050 = 0.50 €
    # total 2.9375 € -> 2.94 (without the exemption it would be 1.95 + 0.50 = 2.45)
    assert s.incentive_cents == 294
    # refund 40 × 10.57 / 1000 = 0.4228 -> 0.42
    assert s.refund_cents == 42
    # set "tip_with_grant": r = 40/40 = 1; (1 − 0.45) × 2.94 = 1.617 -> 1.62 €
    (e,) = s.excess
    assert (e.set.value, e.excess_cents) == ("tip_with_grant", 162)
    m = by_id(s)
    # contributions: comune 10×30/40 = 7.5 kWh; shop 30×30/40 + 20×10/20 = 32.5 kWh
    assert (m["comune"].contribution_wh, m["shop"].contribution_wh) == (7_500, 32_500)
    # the excess (1.62) goes only to the non-enterprise consumer, the comune.
    # rest 336 − 162 = 174: 78.3 / 52.2 / 43.5 -> 78/52/43, 1 cent to .5 -> community 44
    # consumers 52 by 7.5 : 32.5 -> 9.75 / 42.25 -> 9/42, 1 cent to .75 -> comune 10
    assert m["solar"].cents == 78
    assert m["comune"].as_consumer_cents == 10 + 162
    assert m["shop"].as_consumer_cents == 42
    assert s.community_cents == 44
    assert 78 + 172 + 42 + 44 == s.total_cents == 336


def test_readings_sum_to_the_hour_before_the_min_and_mix_intervals() -> None:
    # The plant reports hourly (4 kWh), the home in quarters 3 + 0 + 0 + 2 = 5 kWh: shared 4
    doc = document(
        members=[member("a")],
        points=[point(PV, "a", plant=plant(10)), point(HOME, "a")],
        readings=[reading(PV, at(DAY, 9), fed=4)]
        + [
            reading(HOME, at(DAY, 9, 15 * q), withdrawn=w, minutes=15)
            for q, w in enumerate([3, 0, 0, 2])
        ],
        prices=[price(at(DAY, 9), 200)],
    )
    s = settle_document(doc)
    # 4 kWh at Pz 200: min(120; 80 + 0) + 10 = 90 €/MWh -> 0.36 €; refund 4 × 10.57/1000 -> 0.04
    assert s.shared_energy_wh == 4_000
    assert (s.incentive_cents, s.refund_cents) == (36, 4)
    # one member, producer and consumer: everything but the community share is theirs
    assert s.members[0].cents + s.community_cents == 40


def test_prices_with_six_decimals_are_used_exactly() -> None:
    doc = document(
        members=[member("a"), member("b")],
        points=[point(PV, "a", plant=plant(1000)), point(HOME, "b")],
        readings=[reading(PV, at(DAY, 12), fed=1000), reading(HOME, at(DAY, 12), withdrawn=1000)],
        prices=[price(at(DAY, 12), 170.123456)],
    )
    s = settle_document(doc)
    # 1000 kW is class > 600 kW: min(100; 60 + (180 − 170.123456)) + 10 = 79.876544 €/MWh
    # × 1 MWh = 79.876544 € -> 79.88; the bracket is kept exactly, in µ€/MWh
    assert s.incentive_cents == 7988
    assert s.hourly.plant_tip_before_reduction_micro[0, 12] == 79_876_544
