"""The ARERA refund (valorizzazione, TIAD): C_ACV = TRASe × EACV / 1000 €, TRASe in €/MWh.

The rules define C_ACV once for the configuration, so it is rounded to the cent once, on the
configuration's total, and then split to substations and to their plants by largest remainder
(`split_refund_cents`): rounding each plant's refund and summing would lose up to half a cent per
plant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from cacer.money import cents_half_up, largest_remainder
from cacer.parameters import TRASE_EUR_MWH_BY_YEAR, Dated

WH_PER_MWH = 10**6


def trase_by_year(
    years: Iterable[int],
    override_eur_mwh: Decimal | None = None,
    table: Mapping[int, Dated[Decimal]] = TRASE_EUR_MWH_BY_YEAR,
) -> dict[int, Decimal]:
    """TRASe for each year; a year missing from the table is a `LookupError`, never zero."""
    if override_eur_mwh is not None:
        return dict.fromkeys(years, override_eur_mwh)
    result: dict[int, Decimal] = {}
    for year in years:
        if year not in table:
            raise LookupError(f"no TRASe value for {year}")
        result[year] = table[year].value
    return result


def refund_eur(
    shared_energy_wh_by_year: Mapping[int, int], trase_eur_mwh: Mapping[int, Decimal]
) -> Fraction:
    """Exact refund of the shared energy (EACV) attributed to one plant, year by year."""
    return sum(
        (
            Fraction(trase_eur_mwh[year]) * Fraction(wh, WH_PER_MWH)
            for year, wh in shared_energy_wh_by_year.items()
        ),
        Fraction(0),
    )


@dataclass(frozen=True)
class RefundSplit:
    total_cents: int
    substation_cents: list[int]
    plant_cents: list[int]


def split_refund_cents(
    exact_eur_by_plant: Sequence[Fraction],
    substation_of_plant: Sequence[int],
    n_substations: int,
) -> RefundSplit:
    """C_ACV rounded half up once, split to substations pro rata of their exact refunds, then
    within each substation to its plants pro rata of theirs (largest remainder, ties to the
    earlier). Every level sums exactly to the level above."""
    total_cents = cents_half_up(sum(exact_eur_by_plant, Fraction(0)))
    exact_by_substation = [Fraction(0)] * n_substations
    for exact, s in zip(exact_eur_by_plant, substation_of_plant, strict=True):
        exact_by_substation[s] += exact
    substation_cents = _split(total_cents, exact_by_substation)
    plant_cents = [0] * len(exact_eur_by_plant)
    for s in range(n_substations):
        rows = [k for k, of in enumerate(substation_of_plant) if of == s]
        for k, cents in zip(
            rows, _split(substation_cents[s], [exact_eur_by_plant[k] for k in rows]), strict=True
        ):
            plant_cents[k] = cents
    return RefundSplit(total_cents, substation_cents, plant_cents)


def _split(total_cents: int, weights: Sequence[Fraction]) -> list[int]:
    if total_cents == 0:
        return [0] * len(weights)
    return largest_remainder(total_cents, weights)
