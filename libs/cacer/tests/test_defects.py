"""The engine's two defects of issue 14: the refund rounded once for the configuration, and
inputs that cannot be settled refused with one clear line per problem."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cacer import ScenarioError
from cacer.scenario import MAX_PROBLEMS_PER_CHECK
from cacer_scenarios import at, document, member, plant, point, price, reading, settle_document

DAY = "2025-06-01"
SUB_A = "AC001E00001"
SUB_B = "AC001E00002"


def _five_small_plants() -> dict[str, Any]:
    """Five plants each sharing under half a cent's worth of refund, in two substations."""
    fed = {"P1": 0.4, "P2": 0.3, "P3": 0.45, "P4": 0.4, "P5": 0.35}
    sub = {"P1": SUB_A, "P2": SUB_A, "P3": SUB_A, "P4": SUB_B, "P5": SUB_B}
    pods = {name: f"IT001E0000010{k}" for k, name in enumerate(fed)}
    homes = {SUB_A: "IT001E00000201", SUB_B: "IT001E00000202"}
    return document(
        members=[member(n) for n in fed] + [member("home")],
        points=[point(pods[n], n, substation=sub[n], plant=plant(20)) for n in fed]
        + [point(homes[s], "home", substation=s) for s in (SUB_A, SUB_B)],
        readings=[reading(pods[n], at(DAY, 12), fed=kwh) for n, kwh in fed.items()]
        + [reading(homes[s], at(DAY, 12), withdrawn=10) for s in (SUB_A, SUB_B)],
        prices=[price(at(DAY, 12), 100)],
    )


def test_refund_is_rounded_once_for_the_configuration_and_split_by_largest_remainder() -> None:
    s = settle_document(_five_small_plants())
    # Everything fed in is shared (10 kWh withdrawn in each substation).
    # Exact refunds at 10.57 €/MWh, in cents: P1 0.4228, P2 0.3171, P3 0.47565, P4 0.4228,
    # P5 0.36995. Rounded per plant each is 0 and the community would get nothing.
    # C_ACV = 10.57 × 1.9 kWh / 1000 = 0.020083 € -> 2 cents, once.
    assert s.shared_energy_wh == 1_900
    assert s.refund_cents == 2
    # Substations: A 1.15 kWh -> 1.21555 c, B 0.75 kWh -> 0.79275 c; floors 1 + 0, the cent left
    # to the larger remainder (B) -> 1 + 1.
    assert [(x.code, x.refund_cents) for x in s.substations] == [(SUB_A, 1), (SUB_B, 1)]
    # Within A: 1 cent to the largest exact refund, P3; within B: to P4.
    refunds = {p.member: p.refund_cents for p in s.plants}
    assert refunds == {"P1": 0, "P2": 0, "P3": 1, "P4": 1, "P5": 0}
    assert sum(refunds.values()) == s.refund_cents
    assert s.total_cents == s.incentive_cents + 2
    assert sum(m.cents for m in s.members) + s.community_cents == s.total_cents


def test_refund_split_keeps_each_level_summing_exactly() -> None:
    doc = _five_small_plants()
    # scale the energy up so that the split carries real cents and remainders at both levels
    for r in doc["readings"]:
        r["fed_in_kwh"] *= 777
        r["withdrawn_kwh"] *= 777
    s = settle_document(doc)
    # 1.9 kWh × 777 = 1,476.3 kWh × 10.57 €/MWh = 15.604491 € -> 1560 cents, once
    assert s.refund_cents == 1560
    assert sum(x.refund_cents for x in s.substations) == 1560
    for x in s.substations:
        assert sum(p.refund_cents for p in s.plants if p.substation == x.code) == x.refund_cents


def test_no_readings_is_refused_not_settled_to_zero() -> None:
    with pytest.raises(ScenarioError) as e:
        settle_document(document(members=[], points=[], readings=[], prices=[]))
    assert [str(p) for p in e.value.problems] == [
        "readings: no readings in the period: there is nothing to settle"
    ]


def _cer(doc: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(doc))
    return subprocess.run(
        [sys.executable, "-m", "cacer", "settle", "--input", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_cer_settle_exits_2_on_an_input_without_readings(tmp_path: Path) -> None:
    doc = _five_small_plants()
    doc["readings"] = []
    done = _cer(doc, tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "readings: no readings in the period: there is nothing to settle"
    ]


def _many_readings() -> dict[str, Any]:
    pv = "IT001E00000001"
    home = "IT001E00000002"
    return document(
        members=[member("a"), member("b")],
        points=[point(pv, "a", plant=plant(20)), point(home, "b")],
        readings=[reading(pv, at(DAY, h), fed=1) for h in range(24)]
        + [reading(home, at(DAY, h), withdrawn=1) for h in range(24)],
        prices=[price(at(DAY, h), 100) for h in range(24)],
    )


def test_one_bad_field_on_a_point_is_one_problem_not_one_per_reading(tmp_path: Path) -> None:
    doc = copy.deepcopy(_many_readings())
    doc["points"][0]["zone"] = "MARS"
    done = _cer(doc, tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == [
        "points[0].zone: unknown value 'MARS'; one of NORD, CNOR, CSUD, SUD, CALA, SICI, SARD"
    ]


def test_readings_of_a_pod_missing_from_points_are_summarised() -> None:
    doc = _many_readings()
    doc["points"][1]["pod"] = "IT001E00000003"  # the home's POD mistyped in points
    with pytest.raises(ScenarioError) as e:
        settle_document(doc)
    lines = [str(p) for p in e.value.problems]
    unknown = [line for line in lines if "unknown POD" in line]
    assert len(unknown) == MAX_PROBLEMS_PER_CHECK
    assert unknown[0] == "readings[24].pod: unknown POD 'IT001E00000002'"
    assert lines[-1] == "readings[*].pod: 4 more with the same problem"
    assert len(lines) == MAX_PROBLEMS_PER_CHECK + 1
