"""The hour grid both profiles are computed on.

Italy's UTC offset is always a whole number of hours, so every Italian local hour is exactly one
UTC hour; a range is given as aware instants on whole UTC hours and comes back hour by hour,
each hour labelled by its UTC start (a 23- or 25-hour local day needs no special case).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

ITALY = ZoneInfo("Europe/Rome")
HOUR = timedelta(hours=1)
# Profiles are rates per kW or shapes scaled by a caller; a millionth of a kWh (one mWh) keeps
# their rounding far below the watt-hour the rules engine settles in, even after scaling by a
# plant of a few MW.
KWH_QUANTUM = Decimal("0.000001")
# A profile longer than a few years is a caller's mistake, and would tie up a worker.
MAX_HOURS = 3 * 8784


class ProfileError(ValueError):
    """A range or parameter a profile cannot be computed for, saying what was expected."""


@dataclass(frozen=True)
class HourlyEnergy:
    """Energy in one hour: `start` is the UTC start of the hour, `kwh` energy in kWh.

    Energy, not money: `kwh` is a Decimal because the rules engine and the simulations take
    Decimal kWh, quantised to `KWH_QUANTUM`; it is a physical estimate, not an exact figure.
    """

    start: datetime
    kwh: Decimal

    @property
    def local_start(self) -> datetime:
        """The same instant in Italian local time (with its offset, so October's repeat shows)."""
        return self.start.astimezone(ITALY)


def hour_starts(start: datetime, end: datetime) -> list[datetime]:
    """The UTC starts of the hours in [start, end); both aware and on a whole hour."""
    for name, instant in (("start", start), ("end", end)):
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ProfileError(f"{name}: expected an aware datetime (with a UTC offset)")
        if instant.astimezone(UTC).replace(minute=0, second=0, microsecond=0) != instant:
            raise ProfileError(f"{name}: expected a whole hour, got {instant.isoformat()}")
    first, last = start.astimezone(UTC), end.astimezone(UTC)
    count = (last - first) // HOUR
    if count <= 0:
        raise ProfileError("end: expected an instant after start")
    if count > MAX_HOURS:
        raise ProfileError(f"end: expected at most {MAX_HOURS} hours after start")
    return [first + i * HOUR for i in range(count)]


def to_kwh(value: float) -> Decimal:
    """A float estimate as Decimal kWh on the profiles' quantum (never negative)."""
    return Decimal(repr(max(value, 0.0))).quantize(KWH_QUANTUM)
