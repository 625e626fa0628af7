"""The GSE's monthly advance on the TIP (RO p.36), paid before the settlement on real data.

A = P × H / 12 × 0.60 × TIPa, TIPa = (TPbase + 20 + FCzonale) × (1 − F). P is in kW and TIPa in
€/MWh, so P × H is kWh a year and the product is divided by 1000 to give euros.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from cacer.money import cents_half_up
from cacer.parameters import ADVANCE_RULES, EXISTING_PLANT_CUTOFF, REGIONS, Technology, in_force
from cacer.scenario import Plant
from cacer.tip import fc_zonale, grant_reduction, ineligibility, size_class

MONTHS_PER_YEAR = 12
KWH_PER_MWH = 1000


def equivalent_hours(plant: Plant) -> Decimal:
    """H: the yearly production hours the GSE assumes for the plant's technology and area."""
    rule = in_force(ADVANCE_RULES, max(plant.entry_into_service, EXISTING_PLANT_CUTOFF))
    if plant.technology is Technology.PV:
        return rule.pv_hours[REGIONS[plant.region]]
    return rule.hours_by_technology[plant.technology]


def monthly_advance_cents(plant: Plant) -> int:
    """The monthly TIP advance of one plant, in cents (zero for a plant that earns no TIP)."""
    if ineligibility(plant) is not None:
        return 0
    rule = in_force(ADVANCE_RULES, max(plant.entry_into_service, EXISTING_PLANT_CUTOFF))
    tipa = Fraction(
        size_class(plant).tp_base_eur_mwh + rule.tip_uplift_eur_mwh + fc_zonale(plant)
    ) * (1 - grant_reduction(plant))
    kwh_per_month = Fraction(plant.power_kw) * Fraction(equivalent_hours(plant)) / MONTHS_PER_YEAR
    return cents_half_up(kwh_per_month * Fraction(rule.share_paid) * tipa / KWH_PER_MWH)
