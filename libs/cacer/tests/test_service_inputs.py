"""Decimal strings and per-plant parameters a service hands to the engine exactly."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from cacer import ScenarioError, parse_scenario, settle

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "scenario.json"


def test_a_string_price_settles_as_the_same_number() -> None:
    document = json.loads(EXAMPLE.read_text())
    as_numbers = settle(parse_scenario(document))
    for price in document["prices"]:
        price["eur_mwh"] = str(Decimal(repr(price["eur_mwh"])))
    as_strings = settle(parse_scenario(document))
    assert as_strings.total_cents == as_numbers.total_cents > 0
    assert [m.cents for m in as_strings.members] == [m.cents for m in as_numbers.members]


def test_a_price_string_that_is_no_number_is_named() -> None:
    document = json.loads(EXAMPLE.read_text())
    document["prices"][3]["eur_mwh"] = "12,5"
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(document)
    assert [p.path for p in caught.value.problems] == ["prices[3].eur_mwh"]


def test_a_plant_s_own_maximum_eligible_cost_changes_its_grant_reduction() -> None:
    document = json.loads(EXAMPLE.read_text())
    granted = next(p for p in document["points"] if p["pod"] == "IT001E00000101")
    built_in = settle(parse_scenario(document))
    # 480 €/kW of grant over a 1,200 €/kW cap: F = 1.25 x 0.4 = 0.5; over 2,400: F = 0.25.
    granted["plant"]["max_eligible_cost_eur_per_kw"] = "2400"
    own = settle(parse_scenario(document))
    f = {p.pod: p.grant_reduction for p in own.plants}
    assert f["IT001E00000101"] == Decimal("0.25")
    assert {p.pod: p.grant_reduction for p in built_in.plants}["IT001E00000101"] == Decimal("0.5")
    assert own.incentive_cents > built_in.incentive_cents
    granted["plant"]["max_eligible_cost_eur_per_kw"] = "0"
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(document)
    assert caught.value.problems[0].path.endswith(".plant.max_eligible_cost_eur_per_kw")
