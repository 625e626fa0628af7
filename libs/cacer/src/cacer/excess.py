"""The 55% / 45% rule (RO p.39, App. B §4): incentive above a threshold is "excess".

Per set of plants, r = EACI / fed-in energy of the set's incentivised plants, and
excess € = max(0; r − S) × C_ACI of the set. The rules state it per year; the platform applies
it to the settled period, and the GSE's certified figure supersedes it when it arrives.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from cacer.money import cents_half_up
from cacer.parameters import EXCESS_THRESHOLD_TIP, EXCESS_THRESHOLD_TIP_WITH_GRANT


class PlantSet(enum.StrEnum):
    TIP = "tip"  # incentivised plants without a capital grant
    TIP_WITH_GRANT = "tip_with_grant"  # incentivised plants with a capital grant


THRESHOLDS: dict[PlantSet, Decimal] = {
    PlantSet.TIP: EXCESS_THRESHOLD_TIP,
    PlantSet.TIP_WITH_GRANT: EXCESS_THRESHOLD_TIP_WITH_GRANT,
}


@dataclass(frozen=True)
class Excess:
    set: PlantSet
    ratio: Fraction
    threshold: Decimal
    excess_cents: int


def excess(
    plant_set: PlantSet, incentivised_shared_wh: int, fed_in_wh: int, incentive_cents: int
) -> Excess:
    threshold = THRESHOLDS[plant_set]
    ratio = Fraction(incentivised_shared_wh, fed_in_wh) if fed_in_wh else Fraction(0)
    over = max(Fraction(0), ratio - Fraction(threshold))
    return Excess(plant_set, ratio, threshold, cents_half_up(over * Fraction(incentive_cents, 100)))
