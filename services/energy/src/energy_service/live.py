"""Live shared energy: per community and primary substation, the current
hour's and today's produced, consumed, fed-in, withdrawn, self-consumption and
shared energy, kept up to date as readings arrive.

Every replica of the service keeps the complete tally of every community:
its own reader (``live_feed.LiveFeed``) reads every partition of
``measurement.v1`` outside any consumer group and hands each batch to
:meth:`LiveTally.add`, which updates running sums in place (a few dictionary
operations a reading), so a client's view is never recomputed from raw data
and is the same whichever replica the gateway sends it to. The ingestion's
consumer group, which shares the partitions among replicas, plays no part.
Quantities follow ``quantities``: exchange measured, else derived per quarter
hour from the plant's production and consumption meters (a plant's readings
share one partition, keyed by plant, but the tally sees all partitions
anyway); self-consumption per plant and hour. Shared energy per hour and
substation is the rules engine's (``cacer``): hourly sums in whole Wh, then
the min.

What the tally counts, and why:

* IoT readings only. Live figures are the meters' estimates as they arrive;
  official and manual figures, which supersede them, come days or months
  later and are read through the aggregations.
* Today (Italian calendar) only; the tally starts afresh at local midnight.
  A replica that starts (or restarts, or loses the broker) reads the day's
  records again from the partitions' time index, so its figures are the
  day's, not those since it started; ``replaying`` says it has not caught up
  yet (the snapshot carries it).
* A reading is counted once: per plant and device only readings newer than
  the last one counted are taken, so a record read twice (a redelivery, the
  day read again) does not double. A device's late, out-of-order reading is
  therefore left out of the live figure (the stored data keeps it).
* A plant is counted from when the directory knows it (the periodic refresh,
  or a client of its community connecting); the feed loads the directory
  before it reads the day.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from cacer.shared_energy import shared_energy
from cerc_shared.clock import ITALY
from cerc_shared.readmodels import PlantStay
from cerc_shared.worker import Worker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from energy_service.models import registry
from energy_service.timeseries import EnergyPoint, Point

log = logging.getLogger(__name__)

QUARTER_S = 900
HOUR_S = 3600
WH_PER_KWH = 1000


@dataclass(frozen=True)
class LiveSettings:
    """How the stream paces itself (the service's live_* settings)."""

    keepalive_s: float
    min_interval_s: float


@dataclass(frozen=True, slots=True)
class PlantPlace:
    """Where a plant's energy counts during one stay in a community: the
    community and the plant's primary substation ("" when not known, as in the
    aggregations), over ``[valid_from, valid_to)``."""

    community_id: int
    primary_substation: str
    valid_from: date
    valid_to: date | None

    def active_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


class PlantDirectory:
    """Plant id -> its stays in communities, from the registry read model
    (merged, never emptied). A plant that moves counts in the community of
    the stay that covers the day."""

    def __init__(self) -> None:
        # Per plant, its stays by first day: a stay that ends is the same key, updated.
        self._stays: dict[int, dict[date, PlantPlace]] = {}

    def merge(self, places: Iterable[tuple[int, PlantPlace]]) -> None:
        """Add or update these stays; the plants' other stays are kept."""
        for plant_id, place in places:
            self._stays.setdefault(plant_id, {})[place.valid_from] = place

    def reload(self, places: Iterable[tuple[int, PlantPlace]]) -> None:
        """Every stay of the plants given (a full read): their stays become these."""
        fresh: dict[int, dict[date, PlantPlace]] = {}
        for plant_id, place in places:
            fresh.setdefault(plant_id, {})[place.valid_from] = place
        self._stays.update(fresh)

    def on(self, plant_id: int, day: date) -> PlantPlace | None:
        """The plant's stay that covers ``day``; None if none does (or the plant is unknown)."""
        stays = self._stays.get(plant_id)
        if stays is not None:
            for place in stays.values():
                if place.active_on(day):
                    return place
        return None

    def __len__(self) -> int:
        return len(self._stays)


# A plant-hour's contribution: produced, consumed, fed-in, withdrawn,
# self-consumption (kWh), and fed-in and withdrawn in whole Wh: the rules engine
# rounds each point's hour to the Wh before it sums a substation's
# (cacer.hours.sum_to_intervals), and so does the tally.
Contribution = tuple[float, float, float, float, float, float, float]
_ZERO: Contribution = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
_PLANES = len(_ZERO)


@dataclass(slots=True)
class _Quarter:
    produced: float = 0.0
    consumed: float = 0.0
    fed_in: float = 0.0
    withdrawn: float = 0.0
    # Whether any reading of the quarter measured the exchange (else it is derived).
    measured: bool = False

    def exchange(self) -> tuple[float, float]:
        if self.measured:
            return self.fed_in, self.withdrawn
        return max(0.0, self.produced - self.consumed), max(0.0, self.consumed - self.produced)


@dataclass(slots=True)
class _PlantHour:
    place: PlantPlace
    quarters: dict[int, _Quarter] = field(default_factory=dict)
    contribution: Contribution = _ZERO

    def settle(self) -> Contribution:
        produced = consumed = fed_in = withdrawn = 0.0
        for quarter in self.quarters.values():
            produced += quarter.produced
            consumed += quarter.consumed
            quarter_fed_in, quarter_withdrawn = quarter.exchange()
            fed_in += quarter_fed_in
            withdrawn += quarter_withdrawn
        # round() is half-to-even, as numpy's rint in the engine.
        return (
            produced,
            consumed,
            fed_in,
            withdrawn,
            max(0.0, produced - fed_in),
            float(round(fed_in * WH_PER_KWH)),
            float(round(withdrawn * WH_PER_KWH)),
        )


@dataclass(frozen=True, slots=True)
class LiveQuantities:
    produced_kwh: float
    consumed_kwh: float
    fed_in_kwh: float
    withdrawn_kwh: float
    self_consumption_kwh: float
    # Σ over hours and substations of min(Σ fed-in, Σ withdrawn), whole Wh.
    shared_kwh: float

    def as_json(self) -> dict[str, float]:
        return {
            "produced_kwh": round(self.produced_kwh, 6),
            "consumed_kwh": round(self.consumed_kwh, 6),
            "fed_in_kwh": round(self.fed_in_kwh, 6),
            "withdrawn_kwh": round(self.withdrawn_kwh, 6),
            "self_consumption_kwh": round(self.self_consumption_kwh, 6),
            "shared_kwh": self.shared_kwh,
        }


def _day_bounds(day: date) -> tuple[int, int]:
    start = datetime(day.year, day.month, day.day, tzinfo=ITALY)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=ITALY)
    return int(start.timestamp()), int(end.timestamp())


class LiveTally:
    def __init__(self, directory: PlantDirectory, clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self._clock = clock
        self._day = datetime.fromtimestamp(clock(), ITALY).date()
        self._day_start, self._day_end = _day_bounds(self._day)
        self._plant_hours: dict[tuple[int, int], _PlantHour] = {}
        # (community, substation) -> hour start -> the sums of its plants' contributions.
        self._hours: dict[tuple[int, str], dict[int, list[float]]] = {}
        self._last_reading: dict[tuple[int, str], float] = {}
        self._versions: dict[int, int] = {}
        self._watchers: dict[int, set[asyncio.Event]] = {}
        self.readings_counted = 0
        # True while the feed reads the day's earlier records again (live_feed).
        self._replaying = False

    @property
    def replaying(self) -> bool:
        return self._replaying

    @replaying.setter
    def replaying(self, value: bool) -> None:
        if value != self._replaying:
            self._replaying = value
            for community in list(self._watchers):
                self._changed(community)

    @property
    def day_start(self) -> int:
        """The start of the tally's day (local midnight), in seconds since the epoch."""
        return self._day_start

    # ------------------------------------------------------------- updates

    def _roll_day(self, now: float) -> None:
        if now < self._day_end:
            return
        self._day = datetime.fromtimestamp(now, ITALY).date()
        self._day_start, self._day_end = _day_bounds(self._day)
        self._plant_hours.clear()
        self._hours.clear()
        self._last_reading.clear()
        for community in list(self._watchers):
            self._changed(community)

    def add(self, points: Sequence[Point]) -> None:
        """Count stored points; wake the clients of every community they touched."""
        self._roll_day(self._clock())
        day_start, day_end, day = self._day_start, self._day_end, self._day
        touched: set[int] = set()
        touched_hours: set[tuple[int, int]] = set()
        last = self._last_reading
        for point in points:
            if type(point) is not EnergyPoint or point.source != "iot":
                continue
            place = self.directory.on(point.plant_id, day)
            if place is None:
                continue
            at = point.timestamp.timestamp()
            # Interval-ending timestamps: the reading belongs to (at - interval, at].
            if not day_start < at <= day_end:
                continue
            key = (point.plant_id, point.device_id)
            if at <= last.get(key, -math.inf):
                continue
            last[key] = at
            quarter_start = math.ceil(at / QUARTER_S) * QUARTER_S - QUARTER_S
            hour_start = quarter_start // HOUR_S * HOUR_S
            plant_hour_key = (point.plant_id, hour_start)
            plant_hour = self._plant_hours.get(plant_hour_key)
            if plant_hour is None:
                plant_hour = self._plant_hours[plant_hour_key] = _PlantHour(place)
            quarter = plant_hour.quarters.get(quarter_start)
            if quarter is None:
                quarter = plant_hour.quarters[quarter_start] = _Quarter()
            values = point.values
            quarter.produced += values.get("energy_produced_kwh") or 0.0
            quarter.consumed += values.get("energy_consumed_kwh") or 0.0
            fed_in = values.get("energy_fed_in_kwh")
            withdrawn = values.get("energy_withdrawn_kwh")
            if fed_in is not None or withdrawn is not None:
                quarter.measured = True
                quarter.fed_in += fed_in or 0.0
                quarter.withdrawn += withdrawn or 0.0
            touched_hours.add(plant_hour_key)
            self.readings_counted += 1
        # Each plant-hour touched is settled again once and its change added to
        # its substation's hour: the work is per plant-hour, not per reading.
        for plant_hour_key in touched_hours:
            plant_hour = self._plant_hours[plant_hour_key]
            new = plant_hour.settle()
            old = plant_hour.contribution
            plant_hour.contribution = new
            place = plant_hour.place
            hours = self._hours.setdefault((place.community_id, place.primary_substation), {})
            totals = hours.get(plant_hour_key[1])
            if totals is None:
                totals = hours[plant_hour_key[1]] = [0.0] * _PLANES
            for index in range(_PLANES):
                totals[index] += new[index] - old[index]
            touched.add(place.community_id)
        for community in touched:
            self._changed(community)

    def _changed(self, community_id: int) -> None:
        self._versions[community_id] = self._versions.get(community_id, 0) + 1
        for event in self._watchers.get(community_id, ()):
            event.set()

    # --------------------------------------------------------------- reads

    def watch(self, community_id: int) -> asyncio.Event:
        """An event set whenever the community's figures change (set at once, for a first view)."""
        event = asyncio.Event()
        event.set()
        self._watchers.setdefault(community_id, set()).add(event)
        return event

    def unwatch(self, community_id: int, event: asyncio.Event) -> None:
        watchers = self._watchers.get(community_id)
        if watchers is not None:
            watchers.discard(event)
            if not watchers:
                del self._watchers[community_id]

    def snapshot(self, community_id: int) -> dict[str, Any]:
        """The community's current hour and today, in total and per primary substation."""
        now = self._clock()
        self._roll_day(now)
        hour_start = int(now) // HOUR_S * HOUR_S
        hours = list(range(self._day_start, self._day_end, HOUR_S))
        substations = sorted(s for c, s in self._hours if c == community_id)
        # rows: substations; columns: today's hours; planes: the five quantities.
        kwh = np.zeros((_PLANES, len(substations), len(hours)), dtype=np.float64)
        column = {h: i for i, h in enumerate(hours)}
        for row, substation in enumerate(substations):
            for start, totals in self._hours[(community_id, substation)].items():
                index = column.get(start)
                if index is not None:
                    kwh[:, row, index] = totals
        # The rules engine's shared energy: per substation and hour, the min of
        # the sums of its points' whole Wh (exact: sums of integers below 2**53).
        fed_in_wh = np.rint(kwh[5]).astype(np.int64)
        withdrawn_wh = np.rint(kwh[6]).astype(np.int64)
        shared_wh = shared_energy(fed_in_wh, withdrawn_wh)
        current = column.get(hour_start)

        def quantities(rows: slice | int, columns: slice | int) -> LiveQuantities:
            sums = kwh[:5, rows, columns].reshape(5, -1).sum(axis=1)
            shared = int(shared_wh[rows, columns].sum())
            produced, consumed, fed_in, withdrawn, self_consumption = (float(v) for v in sums)
            return LiveQuantities(
                produced, consumed, fed_in, withdrawn, self_consumption, shared / WH_PER_KWH
            )

        def period(columns: slice | int | None) -> dict[str, Any]:
            if columns is None:
                empty = LiveQuantities(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
                return {
                    **empty.as_json(),
                    "substations": [
                        {"primary_substation": s, **empty.as_json()} for s in substations
                    ],
                }
            return {
                **quantities(slice(None), columns).as_json(),
                "substations": [
                    {"primary_substation": s, **quantities(row, columns).as_json()}
                    for row, s in enumerate(substations)
                ],
            }

        return {
            "community_id": community_id,
            "version": self._versions.get(community_id, 0),
            "at": datetime.fromtimestamp(now, UTC).astimezone(ITALY).isoformat(),
            "day": self._day.isoformat(),
            "replaying": self.replaying,
            "hour": {
                "start": datetime.fromtimestamp(hour_start, ITALY).isoformat(),
                "end": datetime.fromtimestamp(hour_start + HOUR_S, ITALY).isoformat(),
                **period(current),
            },
            "today": period(slice(None)),
        }


def places_of(stays: Iterable[PlantStay]) -> list[tuple[int, PlantPlace]]:
    """The registry read model's stays as the directory's places."""
    return [
        (
            stay.plant_id,
            PlantPlace(
                stay.community_id, stay.primary_substation or "", stay.valid_from, stay.valid_to
            ),
        )
        for stay in stays
    ]


class DirectoryRefresher(Worker):
    """Reads every plant's stays from the registry read model into the
    directory every ``period_s``: a plant registered or moved is counted from
    the next refresh on. A failed read is logged and tried again after
    ``restart_delay_s`` (the kernel's worker restarts it)."""

    restart_delay_s = 5.0

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        directory: PlantDirectory,
        period_s: float,
    ) -> None:
        super().__init__("live-directory")
        self._sessionmaker = sessionmaker
        self._directory = directory
        self._period_s = period_s

    async def refresh(self) -> None:
        async with self._sessionmaker() as session:
            stays = await registry.reader(session).plant_stays(None, between=None)
        self._directory.reload(places_of(stays))

    def failed(self, exc: Exception) -> None:
        log.error(
            "cannot refresh the live tally's plants; trying again in %.1fs",
            self.restart_delay_s,
            exc_info=(type(exc), exc, exc.__traceback__),
        )

    async def run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self._period_s)
