"""Prices as decimal strings: a service keeping prices as Decimal hands them over exactly."""

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
