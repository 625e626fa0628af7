"""The settlement quantities of a POD per interval, and where each came from.

Four energies per point of delivery (POD) and interval: produced, consumed,
fed into the grid (energia immessa) and withdrawn from it (energia
prelevata). The CACER rules pay on the last two (cer-rules §1).

* A reading's energies are stored as the meter measured them; a meter at the
  grid connection gives export and import, which are the POD's fed-in and
  withdrawn energy (:func:`stored_energy`).
* Per plant and quarter hour the most authoritative source with data is taken:
  official, then manual, then iot (:func:`settle_interval`). Every figure
  keeps the name of its source.
* Where that source measured no exchange, it is derived from production and
  consumption *per quarter hour*: fed-in = max(0, produced - consumed),
  withdrawn = max(0, consumed - produced), and marked as derived. Netting over
  an hour or a day would hide exchange that happened, so a coarser bucket is
  always the sum of its quarter hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from energy_service.timeseries import EnergySum

# Most authoritative first (cer-rules §6).
PRECEDENCE = ("official", "manual", "iot")
QUARTER_HOUR_S = 900

Exchange = Literal["measured", "derived", "mixed", "none"]
MEASURING_POINTS = frozenset(("grid_connection", "generator", "load"))


def stored_energy(
    values: Mapping[str, float | None], measuring_point: str | None
) -> dict[str, float | None]:
    """The values to store for a reading (API names), after its measuring point.

    A grid-connection meter's produced/consumed are its export/import (the
    convention of the bridge's adapters): they are the POD's fed-in and
    withdrawn energy, not production or consumption."""
    if measuring_point != "grid_connection":
        return dict(values)
    out = dict(values)
    produced = out.pop("energy_produced_kwh", None)
    consumed = out.pop("energy_consumed_kwh", None)
    if out.get("energy_fed_in_kwh") is None:
        out["energy_fed_in_kwh"] = produced
    if out.get("energy_withdrawn_kwh") is None:
        out["energy_withdrawn_kwh"] = consumed
    out["energy_produced_kwh"] = None
    out["energy_consumed_kwh"] = None
    return out


@dataclass(frozen=True, slots=True)
class SourceSums:
    """What one source measured for one plant in one interval; None: not measured."""

    source: str
    produced_kwh: float | None
    consumed_kwh: float | None
    fed_in_kwh: float | None
    withdrawn_kwh: float | None


@dataclass(frozen=True, slots=True)
class IntervalQuantities:
    """The settled quantities of one plant (POD) in one settlement interval."""

    plant_id: int
    start: datetime
    source: str
    produced_kwh: float
    consumed_kwh: float
    fed_in_kwh: float
    withdrawn_kwh: float
    # How the exchange was obtained: measured, derived from production and
    # consumption, both (over different quarter hours), or none measured.
    exchange: Exchange

    @property
    def self_consumption_kwh(self) -> float:
        """Physical self-consumption: production used on site, never fed in."""
        return max(0.0, self.produced_kwh - self.fed_in_kwh)


def choose_source(sources: Iterable[str]) -> str:
    """The most authoritative source present (unknown sources after, by name)."""
    present = set(sources)
    for name in PRECEDENCE:
        if name in present:
            return name
    return sorted(present)[0]


def quarter_exchange(item: SourceSums) -> tuple[float, float, Exchange]:
    """Fed-in and withdrawn energy of one quarter hour, measured or derived."""
    if item.fed_in_kwh is not None or item.withdrawn_kwh is not None:
        return item.fed_in_kwh or 0.0, item.withdrawn_kwh or 0.0, "measured"
    if item.produced_kwh is None and item.consumed_kwh is None:
        return 0.0, 0.0, "none"
    produced = item.produced_kwh or 0.0
    consumed = item.consumed_kwh or 0.0
    return max(0.0, produced - consumed), max(0.0, consumed - produced), "derived"


def settle(
    quarters: Iterable[tuple[int, datetime, SourceSums]], interval_s: int = 3600
) -> list[IntervalQuantities]:
    """Per plant and settlement interval of ``interval_s`` (the hour; UTC-aligned,
    which is Rome-aligned as Italy's offset is whole hours), from quarter-hour sums.

    The source is chosen once per settlement interval: an official hourly
    figure supersedes every iot quarter hour of its hour. The exchange is
    derived quarter hour by quarter hour within the chosen source."""
    grouped: dict[tuple[int, int], dict[str, list[SourceSums]]] = {}
    for plant_id, start, item in quarters:
        slot = int(start.timestamp()) // interval_s * interval_s
        grouped.setdefault((slot, plant_id), {}).setdefault(item.source, []).append(item)
    settled = []
    for (slot, plant_id), by_source in sorted(grouped.items()):
        source = choose_source(by_source)
        produced = consumed = fed_in = withdrawn = 0.0
        kinds: set[Exchange] = set()
        for item in by_source[source]:
            produced += item.produced_kwh or 0.0
            consumed += item.consumed_kwh or 0.0
            quarter_fed_in, quarter_withdrawn, kind = quarter_exchange(item)
            fed_in += quarter_fed_in
            withdrawn += quarter_withdrawn
            kinds.add(kind)
        kinds.discard("none")
        exchange: Exchange = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else "none")
        settled.append(
            IntervalQuantities(
                plant_id=plant_id,
                start=datetime.fromtimestamp(slot, UTC),
                source=source,
                produced_kwh=produced,
                consumed_kwh=consumed,
                fed_in_kwh=fed_in,
                withdrawn_kwh=withdrawn,
                exchange=exchange,
            )
        )
    return settled


def quarters_of(sums: Iterable[EnergySum]) -> Iterator[tuple[int, datetime, SourceSums]]:
    """The store's quarter-hour sums as :class:`SourceSums` (unmeasured fields None)."""
    for item in sums:
        measured = item.measured
        yield (
            item.plant_id,
            item.start,
            SourceSums(
                source=item.source,
                produced_kwh=item.energy_produced_kwh if "energy_produced" in measured else None,
                consumed_kwh=item.energy_consumed_kwh if "energy_consumed" in measured else None,
                fed_in_kwh=item.energy_fed_in_kwh if "energy_fed_in" in measured else None,
                withdrawn_kwh=(
                    item.energy_withdrawn_kwh if "energy_withdrawn" in measured else None
                ),
            ),
        )
