"""Who gets what: the excess to non-enterprise consumers, the rest by the CER's shares.

Order (cer-rules §5 and the issue): first the excess of the 55%/45% rule goes to non-enterprise
consumers pro rata of their contribution; the rest is split by the `distribution` shares into
producers (pro rata of their plants' shared energy), consumers (pro rata of their contribution)
and the community. Every split is by largest remainder on cents, so the members' amounts plus
the community's equal the total exactly. A part with nobody to receive it (no eligible consumer,
no shared energy) goes to the community, which the rules allow for the excess ("social purposes
in the territory") and which keeps every cent accounted for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from cacer.money import largest_remainder
from cacer.scenario import Shares


@dataclass(frozen=True)
class MemberAmounts:
    as_producer_cents: int
    as_consumer_cents: int  # includes the excess the member received

    @property
    def cents(self) -> int:
        return self.as_producer_cents + self.as_consumer_cents


@dataclass(frozen=True)
class Distribution:
    members: tuple[MemberAmounts, ...]  # in the order of the weights given
    community_cents: int
    excess_to_consumers_cents: int


def _split(cents: int, weights: Sequence[int]) -> list[int] | None:
    """Pro-rata split, or None when nobody has a positive weight."""
    if cents == 0:
        return [0] * len(weights)
    if sum(weights) <= 0:
        return None
    return largest_remainder(cents, list(weights))


def distribute(
    total_cents: int,
    excess_cents: int,
    shares: Shares,
    producer_shared_wh: Sequence[int],
    contribution_wh: Sequence[int],
    enterprise: Sequence[bool],
) -> Distribution:
    """Split `total_cents` among members (parallel sequences, one item per member)."""
    n = len(producer_shared_wh)
    if not 0 <= excess_cents <= total_cents:
        raise ValueError("excess must lie between 0 and the total")
    community = 0
    excess_weights = [0 if e else w for w, e in zip(contribution_wh, enterprise, strict=True)]
    excess_parts = _split(excess_cents, excess_weights)
    if excess_parts is None:
        excess_parts, community = [0] * n, community + excess_cents

    rest = total_cents - excess_cents
    weights = [Fraction(shares.producers), Fraction(shares.consumers), Fraction(shares.community)]
    to_producers, to_consumers, to_community = largest_remainder(rest, weights)
    community += to_community
    producer_parts = _split(to_producers, producer_shared_wh)
    if producer_parts is None:
        producer_parts, community = [0] * n, community + to_producers
    consumer_parts = _split(to_consumers, contribution_wh)
    if consumer_parts is None:
        consumer_parts, community = [0] * n, community + to_consumers

    members = tuple(
        MemberAmounts(p, c + x)
        for p, c, x in zip(producer_parts, consumer_parts, excess_parts, strict=True)
    )
    distributed_excess = sum(excess_parts)
    return Distribution(members, community, distributed_excess)
