"""Money is integer euro cents; exact intermediate amounts are `Fraction`s of a euro.

Rounding rule, used everywhere: an exact amount becomes cents by rounding half up (a positive
amount ending in exactly half a cent goes up); an amount split among several parties is split
by largest remainder, so the parts always add up to the whole to the cent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction


def cents_half_up(amount_eur: Fraction) -> int:
    """Exact euros to cents, half a cent rounding away from zero."""
    hundredths = amount_eur * 100
    magnitude = math.floor(abs(hundredths) + Fraction(1, 2))
    return magnitude if hundredths >= 0 else -magnitude


def eur(cents: int) -> Decimal:
    """Cents as a two-decimal euro amount."""
    return Decimal(cents).scaleb(-2)


def largest_remainder(total_cents: int, weights: Sequence[int | Fraction]) -> list[int]:
    """Split `total_cents` pro rata of non-negative `weights`, the parts summing to the total.

    Each party gets the floor of its exact quota; the cents left go one each to the largest
    remainders, ties to the earlier party, so the result does not depend on float noise.
    """
    if total_cents < 0 or any(w < 0 for w in weights):
        raise ValueError("largest_remainder needs a non-negative total and weights")
    # Scale the weights to integers so that quotas and remainders are exact integer arithmetic.
    scale = math.lcm(*(Fraction(w).denominator for w in weights)) if weights else 1
    scaled = [int(Fraction(w) * scale) for w in weights]
    weight_sum = sum(scaled)
    if weight_sum == 0:
        raise ValueError("largest_remainder needs at least one positive weight")
    parts, remainders = zip(*(divmod(total_cents * w, weight_sum) for w in scaled), strict=True)
    result = list(parts)
    left = total_cents - sum(result)
    by_remainder = sorted(range(len(result)), key=lambda i: (-remainders[i], i))
    for i in by_remainder[:left]:
        result[i] += 1
    return result
