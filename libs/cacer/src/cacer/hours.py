"""Market hours: instants are stored as UTC epoch seconds, settled per Italian local hour.

Italy's UTC offset is always a whole number of hours, so the local hours of a period are exactly
the UTC hours between its first and last local midnight; a 23- or 25-hour day needs no special
case beyond computing those midnights with the real time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from cacer.parameters import MARKET_TIME_ZONE, SETTLEMENT_INTERVAL_MINUTES

MARKET_TZ = ZoneInfo(MARKET_TIME_ZONE)
INTERVAL_SECONDS = SETTLEMENT_INTERVAL_MINUTES * 60
WH_PER_KWH = 1000


def local_midnight_utc(day: date) -> int:
    """Epoch seconds of 00:00 Italian time on `day` (midnight always exists in Europe/Rome)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=MARKET_TZ).timestamp())


@dataclass(frozen=True)
class HourGrid:
    """The settlement intervals of a period: `count` intervals from `start_utc`."""

    start_utc: int
    count: int

    @classmethod
    def for_period(cls, start: date, end: date) -> HourGrid:
        first = local_midnight_utc(start)
        last = local_midnight_utc(end)
        return cls(first, (last - first) // INTERVAL_SECONDS)

    @property
    def end_utc(self) -> int:
        return self.start_utc + self.count * INTERVAL_SECONDS

    def starts_utc(self) -> NDArray[np.int64]:
        return self.start_utc + INTERVAL_SECONDS * np.arange(self.count, dtype=np.int64)

    def index_of(self, instants_utc: NDArray[np.int64]) -> NDArray[np.int64]:
        """The interval each instant falls in (callers have checked it lies in the grid)."""
        return (instants_utc - self.start_utc) // INTERVAL_SECONDS

    def local_labels(self) -> list[str]:
        """ISO local start of each hour with its offset: October's repeated hour stays distinct."""
        return [datetime.fromtimestamp(int(t), MARKET_TZ).isoformat() for t in self.starts_utc()]

    def local_years(self) -> NDArray[np.int64]:
        """The Italian calendar year of each hour (tariffs such as TRASe are set per year)."""
        first_year = datetime.fromtimestamp(self.start_utc, MARKET_TZ).year
        last_year = datetime.fromtimestamp(self.end_utc - 1, MARKET_TZ).year
        years = np.arange(first_year, last_year + 1, dtype=np.int64)
        new_year_utc = np.array([local_midnight_utc(date(int(y), 1, 1)) for y in years[1:]])
        return years[np.searchsorted(new_year_utc, self.starts_utc(), side="right")]


def sum_to_intervals(
    grid: HourGrid,
    row: NDArray[np.int64],
    start_utc: NDArray[np.int64],
    kwh: NDArray[np.float64],
    rows: int,
) -> NDArray[np.int64]:
    """Sum readings into a rows × intervals matrix of whole Wh.

    Readings are summed to the interval first and only then rounded to the Wh, so a 15-minute
    meter and an hourly one give the same hour; the sum is quantised because everything after
    (min, attribution, money) must be exact integer arithmetic.
    """
    key = row * grid.count + grid.index_of(start_utc)
    total_kwh = np.bincount(key, weights=kwh, minlength=rows * grid.count)
    return np.rint(total_kwh * WH_PER_KWH).astype(np.int64).reshape(rows, grid.count)


def utc_iso(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat()
