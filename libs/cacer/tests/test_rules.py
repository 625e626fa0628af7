"""The worked examples of cer-rules.md and the rule tables, one rule at a time."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from cacer.advance import monthly_advance_cents
from cacer.excess import PlantSet, excess
from cacer.money import cents_half_up, largest_remainder
from cacer.parameters import TRASE_EUR_MWH_BY_YEAR, Technology
from cacer.refund import refund_eur, trase_by_year
from cacer.scenario import Plant
from cacer.tip import fc_zonale, grant_reduction, ineligibility, size_class, tip_eur_mwh


def pv(
    power_kw: int, region: str = "Lombardia", grant: int = 0, entry: str = "2024-05-01"
) -> Plant:
    return Plant(
        Decimal(power_kw), Technology.PV, region, date.fromisoformat(entry), Decimal(grant)
    )


# --- cer-rules §2 worked check: 150 kW PV in Lombardia ---------------------------------------


def test_worked_example_pz_110_gives_130() -> None:
    # min(120 ; 80 + (180 − 110)) + 10 = min(120 ; 150) + 10 = 130
    assert tip_eur_mwh(pv(150), Decimal(110)) == 130


def test_worked_example_pz_170_gives_100() -> None:
    # min(120 ; 80 + (180 − 170)) + 10 = 90 + 10 = 100
    assert tip_eur_mwh(pv(150), Decimal(170)) == 100


def test_worked_example_40_percent_grant_halves_the_tip() -> None:
    # 150 kW -> max eligible cost 1,200 €/kW; 40% = 480 €/kW; F = 1.25 × 0.4 = 0.5
    granted = pv(150, grant=480)
    assert grant_reduction(granted) == Fraction(1, 2)
    assert tip_eur_mwh(granted, Decimal(110)) == 65
    assert tip_eur_mwh(granted, Decimal(170)) == 50


def test_worked_example_excess_of_5_6_percent() -> None:
    # r = 606 / 1000 = 0.606, S = 0.55 -> 0.056 × 1,000.00 € = 56.00 €
    result = excess(PlantSet.TIP, 606, 1000, 100_000)
    assert result.ratio == Fraction(606, 1000)
    assert result.excess_cents == 5600


def test_excess_with_grant_uses_45_percent_and_none_below_threshold() -> None:
    # r = 0.5, S = 0.45 -> 0.05 × 200.00 € = 10.00 €
    assert excess(PlantSet.TIP_WITH_GRANT, 500, 1000, 20_000).excess_cents == 1000
    # r = 0.5 < 0.55 -> no excess
    assert excess(PlantSet.TIP, 500, 1000, 20_000).excess_cents == 0


# --- TIP tables --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("power_kw", "tp_base", "cap"),
    [(1, 80, 120), (200, 80, 120), (201, 70, 110), (600, 70, 110), (601, 60, 100), (1000, 60, 100)],
)
def test_size_classes_at_their_boundaries(power_kw: int, tp_base: int, cap: int) -> None:
    c = size_class(pv(power_kw))
    assert (c.tp_base_eur_mwh, c.cap_eur_mwh) == (tp_base, cap)


@pytest.mark.parametrize(
    ("region", "fc"),
    [
        ("Lombardia", 10),
        ("Veneto", 10),
        ("Toscana", 4),
        ("Lazio", 4),
        ("Puglia", 0),
        ("Sicilia", 0),
    ],
)
def test_fc_zonale_by_region(region: str, fc: int) -> None:
    assert fc_zonale(pv(100, region)) == fc


def test_fc_zonale_only_for_pv_and_added_after_the_cap() -> None:
    wind = Plant(Decimal(100), Technology.WIND, "Lombardia", date(2024, 5, 1))
    assert fc_zonale(wind) == 0
    # Pz = 0: 80 + 180 = 260 capped at 120, then + 4 for Toscana = 124 (above the cap)
    assert tip_eur_mwh(pv(100, "Toscana"), Decimal(0)) == 124
    assert tip_eur_mwh(wind, Decimal(0)) == 120


def test_tip_never_below_tp_base_plus_fc_at_high_prices() -> None:
    # Pz = 400: max(0, 180 − 400) = 0 -> 80 + 0 + 10 = 90
    assert tip_eur_mwh(pv(100), Decimal(400)) == 90


@pytest.mark.parametrize(
    ("power_kw", "grant", "expected_f"),
    [
        (20, 300, Fraction(1, 4)),  # 300/1500 = 0.2 -> 0.25
        (21, 300, Fraction(5, 16)),  # 300/1200 = 0.25 -> 0.3125
        (600, 220, Fraction(1, 4)),  # 220/1100 = 0.2 -> 0.25
        (1000, 210, Fraction(1, 4)),  # 210/1050 = 0.2 -> 0.25
        (100, 1200, Fraction(1, 2)),  # 100% grant, F capped at 0.50
        (100, 0, Fraction(0)),
    ],
)
def test_grant_reduction_f(power_kw: int, grant: int, expected_f: Fraction) -> None:
    assert grant_reduction(pv(power_kw, grant=grant)) == expected_f


def test_no_tip_above_1_mw_nor_for_existing_plants() -> None:
    assert ineligibility(pv(1000)) is None
    assert ineligibility(pv(1001)) is not None
    assert tip_eur_mwh(pv(1001), Decimal(50)) == 0
    assert ineligibility(pv(100, entry="2021-12-16")) is None
    assert ineligibility(pv(100, entry="2021-12-15")) is not None
    assert tip_eur_mwh(pv(100, entry="2021-12-15"), Decimal(50)) == 0


# --- Refund and TRASe ---------------------------------------------------------------------------


def test_refund_is_trase_times_energy() -> None:
    # 10.57 €/MWh × 1,234.567 kWh / 1000 = 13.04937319 € -> 13.05 €
    trase = trase_by_year([2024])
    assert trase == {2024: Decimal("10.57")}
    assert cents_half_up(refund_eur({2024: 1_234_567}, trase)) == 1305


def test_a_year_without_trase_is_an_error_not_zero() -> None:
    assert 2025 not in TRASE_EUR_MWH_BY_YEAR
    with pytest.raises(LookupError, match="2025"):
        trase_by_year([2024, 2025])
    assert trase_by_year([2025], Decimal("11")) == {2025: Decimal("11")}


# --- Advance --------------------------------------------------------------------------------


def test_monthly_advance() -> None:
    # 50 kW PV Lombardia: TIPa = 80 + 20 + 10 = 110 €/MWh; H = 900 h (North)
    # A = 50 × 900 / 12 × 0.60 × 110 / 1000 = 3750 kWh × 0.6 × 0.110 = 247.50 €
    assert monthly_advance_cents(pv(50)) == 24750
    # 300 kW PV Puglia, grant 300 €/kW of a 1,100 €/kW cap: F = 1.25 × 300/1100 = 15/44;
    # TIPa = (70 + 20 + 0) × 29/44; H = 1,100 -> 300 × 1100 / 12 = 27,500 kWh × 0.6 = 16,500
    # -> 16.5 MWh × 90 × 29/44 = 978.75 €
    assert monthly_advance_cents(pv(300, "Puglia", grant=300)) == 97875
    # Wind 100 kW: TIPa = 80 + 20 = 100; H = 1,500 -> 100 × 1500 / 12 × 0.6 × 0.1 = 750.00 €
    wind = Plant(Decimal(100), Technology.WIND, "Sicilia", date(2024, 5, 1))
    assert monthly_advance_cents(wind) == 75000
    assert monthly_advance_cents(pv(100, entry="2020-01-01")) == 0


# --- Money ----------------------------------------------------------------------------------


def test_cents_round_half_up() -> None:
    assert cents_half_up(Fraction(5, 1000)) == 1  # 0.005 € -> 1 cent
    assert cents_half_up(Fraction(4999, 1_000_000)) == 0  # 0.004999 € -> 0
    assert cents_half_up(Fraction(2_4375, 10_000)) == 244  # 2.4375 € -> 2.44


def test_largest_remainder_sums_exactly_and_favours_largest_remainders() -> None:
    # 100 cents in thirds: 33.33 each, one cent left -> the first (ties to the earlier)
    assert largest_remainder(100, [1, 1, 1]) == [34, 33, 33]
    # 10 cents as 0.45/0.30/0.25: 4.5, 3.0, 2.5 -> floors 4, 3, 2; one left -> 0.5 first -> 5
    shares = [Fraction(45, 100), Fraction(30, 100), Fraction(25, 100)]
    assert largest_remainder(10, shares) == [5, 3, 2]
    # 7 cents pro rata 1:2:4 divides exactly
    assert largest_remainder(7, [1, 2, 4]) == [1, 2, 4]
    with pytest.raises(ValueError):
        largest_remainder(5, [0, 0])
