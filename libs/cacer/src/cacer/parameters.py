"""Every rule parameter that a decree or a tariff update can change, each named, dated and sourced.

Nothing else in the package may carry one of these numbers as a literal: when the GSE, MASE or
ARERA publish a new value, this is the only module that changes (add a row with its date).

Sources (abbreviations used below):
- DM 414/2023: MASE decree of 7 Dec 2023 n. 414 ("Decreto CACER").
- RO: GSE *Regole operative CACER*, Allegato 1 to MASE directorial decree 23 Feb 2024 n. 22.
- TIAD: ARERA delibera 727/2022/R/eel, Allegato A.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Generic, TypeVar

T = TypeVar("T")

#: The time zone of the Italian electricity market: hours are settled in local time.
MARKET_TIME_ZONE = "Europe/Rome"

#: Shared energy is the min of fed-in and withdrawn energy per *settlement interval*: one hour
#: today (RO §1.1.4). Meter intervals shorter than this are summed to it first.
SETTLEMENT_INTERVAL_MINUTES = 60

#: Meter intervals accepted in input.
READING_INTERVALS_MINUTES: frozenset[int] = frozenset({15, 60})

#: Plants in service before this date are "existing" (RO §1.2.1): their energy counts for the
#: shared energy and the refund, never for the TIP.
EXISTING_PLANT_CUTOFF = date(2021, 12, 16)

#: Plants above this power earn no TIP, only the refund (RO p.9).
TIP_MAX_POWER_KW = Decimal(1000)


class MarketZone(enum.StrEnum):
    """Italian day-ahead market zones whose hourly price is Pz."""

    NORD = "NORD"
    CNOR = "CNOR"
    CSUD = "CSUD"
    SUD = "SUD"
    CALA = "CALA"
    SICI = "SICI"
    SARD = "SARD"


class Technology(enum.StrEnum):
    PV = "PV"
    WIND = "WIND"
    HYDRO = "HYDRO"
    BIOMASS = "BIOMASS"
    BIOGAS = "BIOGAS"
    OTHER = "OTHER"


class MacroArea(enum.StrEnum):
    """The three groups of regions of DM 414/2023 Allegato 1 (FCzonale) and of the advance."""

    NORTH = "NORTH"
    CENTRE = "CENTRE"
    SOUTH = "SOUTH"


#: Region -> macro area, with the canonical spelling used in output. DM 414/2023 Allegato 1.
REGIONS: Mapping[str, MacroArea] = {
    "Emilia-Romagna": MacroArea.NORTH,
    "Friuli-Venezia Giulia": MacroArea.NORTH,
    "Liguria": MacroArea.NORTH,
    "Lombardia": MacroArea.NORTH,
    "Piemonte": MacroArea.NORTH,
    "Trentino-Alto Adige": MacroArea.NORTH,
    "Valle d'Aosta": MacroArea.NORTH,
    "Veneto": MacroArea.NORTH,
    "Lazio": MacroArea.CENTRE,
    "Marche": MacroArea.CENTRE,
    "Toscana": MacroArea.CENTRE,
    "Umbria": MacroArea.CENTRE,
    "Abruzzo": MacroArea.CENTRE,
    "Molise": MacroArea.SOUTH,
    "Campania": MacroArea.SOUTH,
    "Puglia": MacroArea.SOUTH,
    "Basilicata": MacroArea.SOUTH,
    "Calabria": MacroArea.SOUTH,
    "Sicilia": MacroArea.SOUTH,
    "Sardegna": MacroArea.SOUTH,
}


@dataclass(frozen=True)
class Dated(Generic[T]):
    """A parameter value in force from `valid_from` (inclusive) until the next row's date."""

    valid_from: date
    value: T
    source: str


def in_force(table: Sequence[Dated[T]], on: date) -> T:
    """The row of a dated table in force on a date; a date before the first row is an error."""
    chosen: Dated[T] | None = None
    for row in sorted(table, key=lambda r: r.valid_from):
        if row.valid_from <= on:
            chosen = row
    if chosen is None:
        raise LookupError(f"no parameter in force on {on.isoformat()}")
    return chosen.value


@dataclass(frozen=True)
class TipSizeClass:
    """One power class of the TIP: plants up to `max_power_kw` (inclusive)."""

    max_power_kw: Decimal | None  # None: no upper bound
    tp_base_eur_mwh: Decimal
    cap_eur_mwh: Decimal


@dataclass(frozen=True)
class TipRule:
    """The TIP formula's parameters: {min[CAP; TPbase + max(0; PZ_REF − Pz)] + FCzonale} × (1−F)."""

    size_classes: tuple[TipSizeClass, ...]
    reference_price_eur_mwh: Decimal  # the 180 in max(0; 180 − Pz)
    fc_zonale_pv_eur_mwh: Mapping[MacroArea, Decimal]


#: Keyed by the plant's entry into service: the tariff is fixed for the plant's 20 years.
TIP_RULES: tuple[Dated[TipRule], ...] = (
    Dated(
        valid_from=EXISTING_PLANT_CUTOFF,
        value=TipRule(
            size_classes=(
                TipSizeClass(Decimal(200), Decimal(80), Decimal(120)),
                TipSizeClass(Decimal(600), Decimal(70), Decimal(110)),
                TipSizeClass(None, Decimal(60), Decimal(100)),
            ),
            reference_price_eur_mwh=Decimal(180),
            fc_zonale_pv_eur_mwh={
                MacroArea.NORTH: Decimal(10),
                MacroArea.CENTRE: Decimal(4),
                MacroArea.SOUTH: Decimal(0),
            },
        ),
        source="DM 414/2023 Allegato 1; RO p.38-39, App. B p.148-149",
    ),
)


@dataclass(frozen=True)
class GrantCostCap:
    max_power_kw: Decimal
    max_eligible_cost_eur_per_kw: Decimal


@dataclass(frozen=True)
class GrantReductionRule:
    """F = factor × grant intensity, capped; intensity = grant €/kW ÷ max eligible cost €/kW."""

    factor: Fraction
    max_reduction: Fraction
    cost_caps: tuple[GrantCostCap, ...]


#: Keyed by the plant's entry into service. The decree of 16 May 2025 changed which plants may
#: receive a PNRR grant, not this formula as the rules document states it; a later change to the
#: formula or the caps is a new row with its date.
GRANT_REDUCTION_RULES: tuple[Dated[GrantReductionRule], ...] = (
    Dated(
        valid_from=EXISTING_PLANT_CUTOFF,
        value=GrantReductionRule(
            factor=Fraction(5, 4),
            max_reduction=Fraction(1, 2),
            cost_caps=(
                GrantCostCap(Decimal(20), Decimal(1500)),
                GrantCostCap(Decimal(200), Decimal(1200)),
                GrantCostCap(Decimal(600), Decimal(1100)),
                GrantCostCap(Decimal(1000), Decimal(1050)),
            ),
        ),
        source="DM 414/2023 Allegato 1 §2; RO App. B",
    ),
)

#: TRASe, the variable low-voltage transmission tariff (TIAD), €/MWh, by calendar year. Only
#: values with a cited source belong here; a year without a value is an error, never zero.
TRASE_EUR_MWH_BY_YEAR: Mapping[int, Dated[Decimal]] = {
    2024: Dated(date(2024, 1, 1), Decimal("10.57"), "ARERA, TRASe 2024 (cer-rules.md §3)"),
}

#: The 55%/45% rule (RO p.39, App. B §4): shared-energy ratio above which the incentive is
#: excess that goes only to non-enterprise consumers or to social purposes.
EXCESS_THRESHOLD_TIP = Decimal("0.55")
EXCESS_THRESHOLD_TIP_WITH_GRANT = Decimal("0.45")


@dataclass(frozen=True)
class AdvanceRule:
    """Monthly advance A = P × H / 12 × share × TIPa / 1000, TIPa = (TPbase + uplift + FC)(1−F)."""

    share_paid: Decimal
    tip_uplift_eur_mwh: Decimal
    pv_hours: Mapping[MacroArea, Decimal]
    hours_by_technology: Mapping[Technology, Decimal]  # for everything but PV


ADVANCE_RULES: tuple[Dated[AdvanceRule], ...] = (
    Dated(
        valid_from=EXISTING_PLANT_CUTOFF,
        value=AdvanceRule(
            share_paid=Decimal("0.60"),
            tip_uplift_eur_mwh=Decimal(20),
            pv_hours={
                MacroArea.NORTH: Decimal(900),
                MacroArea.CENTRE: Decimal(1050),
                MacroArea.SOUTH: Decimal(1100),
            },
            hours_by_technology={
                Technology.WIND: Decimal(1500),
                Technology.HYDRO: Decimal(1500),
                Technology.BIOGAS: Decimal(5000),
                Technology.BIOMASS: Decimal(5000),
                Technology.OTHER: Decimal(500),
            },
        ),
        source="RO p.36",
    ),
)
