"""A standard household's consumption, hour by hour, from its annual kWh.

Source of the shape: the German electricity association's standard load profile for households,
BDEW H25 (2025 revision, measured on 2018-2019 smart-meter data), as published with oemof's
`demandlib` (MIT): a quarter-hour shape for each month and each day type (working day,
Saturday, Sunday or holiday), multiplied by BDEW's daily dynamisation polynomial that smooths
the seasons. Italy has no published standard household profile of this kind (the distributors'
load profiling ended with hourly meters), and the H25 shape is in the same time zone (CET/CEST),
so it is applied in Italian local time with Italian national holidays counted as Sundays. It is a
statistical average of many homes: right for a community of households or a simulation, not a
prediction of one home's next hour (a forecaster with the home's own history does better).

Scaling: the shape is normalised over each Italian calendar year, so the hours of a whole local
year add up to the annual kWh given (up to the profiles' rounding quantum per hour).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

import numpy as np
import pandas as pd
from dateutil.easter import easter
from demandlib.bdew import H25
from numpy.typing import NDArray

from cerc_profiles.hours import HOUR, ITALY, HourlyEnergy, ProfileError, hour_starts, to_kwh

QUARTERS_PER_HOUR = 4


def italian_holidays(year: int) -> list[date]:
    """Italy's national public holidays (L. 260/1949 and amendments) in `year`.

    Easter Sunday is a Sunday anyway; Easter Monday moves with it. 4 October (San Francesco)
    is a national holiday again from 2026 (L. 151/2025).
    """
    fixed = [(1, 1), (1, 6), (4, 25), (5, 1), (6, 2), (8, 15), (11, 1), (12, 8), (12, 25), (12, 26)]
    if year >= 2026:
        fixed.append((10, 4))
    days = [date(year, month, day) for month, day in fixed]
    days.append(easter(year) + timedelta(days=1))
    return sorted(days)


def _local_midnight_utc(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=ITALY).astimezone(UTC)


@lru_cache(maxsize=8)
def _year_shape(year: int) -> NDArray[np.float64]:
    """Each UTC hour of the Italian local `year`, as its share of the year (sums to 1)."""
    first, last = _local_midnight_utc(year), _local_midnight_utc(year + 1)
    quarters = pd.date_range(first, last, freq="15min", inclusive="left").tz_convert(ITALY)
    profile = H25(quarters, holidays=italian_holidays(year))
    values = np.asarray(profile, dtype=np.float64)
    if values.shape[0] != quarters.shape[0] or not np.all(np.isfinite(values)):
        raise ProfileError(f"household profile: the H25 shape does not cover {year}")
    hourly: NDArray[np.float64] = values.reshape(-1, QUARTERS_PER_HOUR).sum(axis=1)
    shares: NDArray[np.float64] = hourly / float(hourly.sum())
    return shares


def household_kwh(annual_kwh: Decimal, start: datetime, end: datetime) -> list[HourlyEnergy]:
    """A standard household using `annual_kwh` a year: its kWh in each hour of [start, end).

    `start` and `end` are aware instants on whole hours; hours come back labelled by their UTC
    start. Each hour takes its share of the annual figure of the Italian calendar year it lies in.
    """
    if not isinstance(annual_kwh, Decimal) or not annual_kwh.is_finite() or annual_kwh < 0:
        raise ProfileError("annual_kwh: expected a non-negative Decimal number of kWh")
    annual = float(annual_kwh)
    out: list[HourlyEnergy] = []
    for hour in hour_starts(start, end):
        year = hour.astimezone(ITALY).year
        index = (hour - _local_midnight_utc(year)) // HOUR
        out.append(HourlyEnergy(hour, to_kwh(annual * float(_year_shape(year)[index]))))
    return out
