"""Shared energy (energia condivisa), its attribution to plants, and consumers' contributions.

All energies here are whole Wh in int64 arrays shaped (rows, hours), so min, cumulative sums and
attribution are exact.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

WhMatrix = NDArray[np.int64]


def sum_by_group(rows: WhMatrix, group: NDArray[np.int64], groups: int) -> WhMatrix:
    """Add the rows of each group (e.g. the points of each substation) into one row per group."""
    out = np.zeros((groups, rows.shape[1]), dtype=rows.dtype)
    if rows.shape[0] == 0:
        return out
    order = np.argsort(group, kind="stable")
    ordered = group[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    out[ordered[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out


def shared_energy(fed_in: WhMatrix, withdrawn: WhMatrix) -> WhMatrix:
    """EAC(p, h) = min(fed-in of the producers in p, withdrawals of the consumers in p)."""
    return np.minimum(fed_in, withdrawn)


def attribute_oldest_first(
    fed_in: WhMatrix,
    substation: NDArray[np.int64],
    entry_into_service: NDArray[np.int64],
    tie_break: NDArray[np.int64],
    shared: WhMatrix,
) -> WhMatrix:
    """Each plant's part of its substation's hourly shared energy, oldest plant first.

    RO App. A (EAC, EACV, EACI: "a partire dalle immissioni degli impianti di produzione entrati
    prima in esercizio"): in each hour the substation's shared energy goes to its plants in order
    of entry into service (an ordinal day number), each up to its own fed-in energy; plants that
    entered service the same day are ordered by `tie_break` (the caller passes the POD's rank,
    so the result does not depend on input order). This is the one place the order rule lives.

    `fed_in` is (plants, hours); `substation` indexes the rows of `shared` (substations, hours).
    Returns (plants, hours), rows in the caller's order, summing per substation to `shared`
    wherever the plants' fed-in covers it (which it does, shared being a min with their sum).
    """
    plants = fed_in.shape[0]
    if plants == 0:
        return np.zeros_like(fed_in)
    order = np.lexsort((tie_break, entry_into_service, substation))
    ordered = fed_in[order]
    sub = substation[order]
    # Fed-in of the plants ahead in the queue: a cumulative sum restarted at each substation.
    running = np.cumsum(ordered, axis=0)
    ahead = running - ordered
    segment_start = np.flatnonzero(np.r_[True, sub[1:] != sub[:-1]])
    segment_of_row = np.repeat(np.arange(len(segment_start)), np.diff(np.r_[segment_start, plants]))
    ahead -= ahead[segment_start][segment_of_row]
    attributed_ordered = np.clip(shared[sub] - ahead, 0, ordered)
    attributed = np.empty_like(attributed_ordered)
    attributed[order] = attributed_ordered
    return attributed


def consumer_contributions(
    withdrawn: WhMatrix,
    substation: NDArray[np.int64],
    incentivised_shared: WhMatrix,
    withdrawn_by_substation: WhMatrix,
) -> NDArray[np.int64]:
    """Each point's contribution over the period: Σ_h withdrawn_i(h) × EACI(h) / W(h), in Wh.

    The per-hour quotient is not a whole Wh; the period sum is computed in float64 and rounded
    to the Wh once, which is far finer than any euro amount it weighs.
    """
    ratio = np.divide(
        incentivised_shared,
        withdrawn_by_substation,
        out=np.zeros(incentivised_shared.shape, dtype=np.float64),
        where=withdrawn_by_substation > 0,
    )
    contribution = np.zeros(withdrawn.shape[0], dtype=np.float64)
    for s in np.unique(substation).tolist():
        rows = np.flatnonzero(substation == s)
        contribution[rows] = withdrawn[rows] @ ratio[s]
    return np.rint(contribution).astype(np.int64)
