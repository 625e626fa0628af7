"""The TIP incentive (tariffa incentivante premio) per plant and hour, exact to the cent.

TIP(h) = { min[CAP; TPbase + max(0; 180 − Pz(h))] + FCzonale } × (1 − F), in €/MWh.

Prices are taken to the micro-euro per MWh (six decimals, as the market publishes them), so the
bracketed part is an integer number of µ€/MWh and TIP × EACI (Wh) an integer of 1e-12 €: a
plant's hourly products are summed exactly, F (a fraction such as 1.25 × 300/1200) is applied
once to the sum, and only the plant's total is rounded to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from cacer.parameters import (
    EXISTING_PLANT_CUTOFF,
    GRANT_REDUCTION_RULES,
    REGIONS,
    TIP_MAX_POWER_KW,
    TIP_RULES,
    Dated,
    GrantReductionRule,
    Technology,
    TipRule,
    TipSizeClass,
    in_force,
)
from cacer.scenario import Plant

MICRO = 10**6
#: µ€/MWh × Wh = 1e-12 €.
PICO_EUR_PER_EUR = 10**12


def tip_rule(plant: Plant, table: tuple[Dated[TipRule], ...] = TIP_RULES) -> TipRule:
    return in_force(table, max(plant.entry_into_service, EXISTING_PLANT_CUTOFF))


def size_class(plant: Plant) -> TipSizeClass:
    for c in tip_rule(plant).size_classes:
        if c.max_power_kw is None or plant.power_kw <= c.max_power_kw:
            return c
    raise LookupError("TIP size classes must end with an unbounded class")


def fc_zonale(plant: Plant) -> Decimal:
    """The zonal correction, for photovoltaic plants only, added after the cap."""
    if plant.technology is not Technology.PV:
        return Decimal(0)
    return tip_rule(plant).fc_zonale_pv_eur_mwh[REGIONS[plant.region]]


def ineligibility(plant: Plant) -> str | None:
    """Why a plant earns no TIP (its energy still counts and earns the refund), or None."""
    if plant.entry_into_service < EXISTING_PLANT_CUTOFF:
        return f"existing plant, in service before {EXISTING_PLANT_CUTOFF.isoformat()}"
    if plant.power_kw > TIP_MAX_POWER_KW:
        return f"over {TIP_MAX_POWER_KW} kW"
    return None


def grant_reduction(
    plant: Plant, table: tuple[Dated[GrantReductionRule], ...] = GRANT_REDUCTION_RULES
) -> Fraction:
    """F = factor × grant intensity, capped; intensity = grant €/kW ÷ max eligible cost €/kW."""
    if plant.capital_grant_eur_per_kw == 0:
        return Fraction(0)
    rule = in_force(table, max(plant.entry_into_service, EXISTING_PLANT_CUTOFF))
    for cap in rule.cost_caps:
        if plant.power_kw <= cap.max_power_kw:
            max_cost = plant.max_eligible_cost_eur_per_kw or cap.max_eligible_cost_eur_per_kw
            intensity = Fraction(plant.capital_grant_eur_per_kw) / Fraction(max_cost)
            return min(rule.max_reduction, rule.factor * intensity)
    # Above the largest cost cap the plant is over 1 MW and earns no TIP at all.
    return Fraction(0)


def tip_before_reduction(plant: Plant, pz_eur_mwh: Decimal) -> Decimal:
    """min[CAP; TPbase + max(0; 180 − Pz)] + FCzonale, €/MWh."""
    c = size_class(plant)
    ref = tip_rule(plant).reference_price_eur_mwh
    return min(c.cap_eur_mwh, c.tp_base_eur_mwh + max(Decimal(0), ref - pz_eur_mwh)) + fc_zonale(
        plant
    )


def tip_eur_mwh(plant: Plant, pz_eur_mwh: Decimal) -> Fraction:
    """The full TIP of an eligible plant in an hour with zonal price Pz, €/MWh."""
    if ineligibility(plant) is not None:
        return Fraction(0)
    return Fraction(tip_before_reduction(plant, pz_eur_mwh)) * (1 - grant_reduction(plant))


@dataclass(frozen=True)
class TipTerms:
    """Per-plant constants of the vectorised formula, as (plants, 1) columns in µ€/MWh."""

    cap: NDArray[np.int64]
    tp_base: NDArray[np.int64]
    reference_price: NDArray[np.int64]
    fc: NDArray[np.int64]


def tip_terms(plants: list[Plant]) -> TipTerms:
    def micro(values: list[Decimal]) -> NDArray[np.int64]:
        return np.array([int(v * MICRO) for v in values], dtype=np.int64).reshape(-1, 1)

    classes = [size_class(p) for p in plants]
    return TipTerms(
        cap=micro([c.cap_eur_mwh for c in classes]),
        tp_base=micro([c.tp_base_eur_mwh for c in classes]),
        reference_price=micro([tip_rule(p).reference_price_eur_mwh for p in plants]),
        fc=micro([fc_zonale(p) for p in plants]),
    )


def tip_before_reduction_micro(terms: TipTerms, pz_micro: NDArray[np.int64]) -> NDArray[np.int64]:
    """The bracket of the TIP formula per plant (row) and hour, µ€/MWh, from Pz in µ€/MWh.

    TPbase + max(0; ref − Pz) = max(TPbase; TPbase + ref − Pz): one maximum, no temporary zero.
    """
    variable = np.maximum(terms.tp_base, terms.tp_base + terms.reference_price - pz_micro)
    bracket: NDArray[np.int64] = np.minimum(terms.cap, variable) + terms.fc
    return bracket


def prices_to_micro(eur_mwh: NDArray[np.float64]) -> NDArray[np.int64]:
    """Prices to integer µ€/MWh; a float of up to six decimals lands on its exact integer."""
    return np.rint(eur_mwh * MICRO).astype(np.int64)


def exact_row_dots(a: NDArray[np.int64], b: NDArray[np.int64]) -> list[int]:
    """Σ_h a[i, h] × b[i, h] per row, exactly: int64 when it provably fits, Python ints if not."""
    if a.size == 0:
        return [0] * a.shape[0]
    bound = int(np.abs(a).max()) * int(np.abs(b).max()) * a.shape[1]
    if bound < 2**63:
        return [int(x) for x in np.einsum("ij,ij->i", a, b)]
    return [
        sum(int(x) * int(y) for x, y in zip(ra.tolist(), rb.tolist(), strict=True))
        for ra, rb in zip(a, b, strict=True)
    ]
