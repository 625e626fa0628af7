"""The ARERA refund (valorizzazione, TIAD): C_ACV = TRASe × EACV / 1000 €, TRASe in €/MWh."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from fractions import Fraction

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
