"""The GSE's calendar (cer-rules §6): data by the 15th of M+1, figures by the 25th,
payment on the last working day of M+1 once €50 is due, the true-up (conguaglio)
by 15 May of the following year. Working days skip weekends and Italian national
holidays (Easter Monday included)."""

from __future__ import annotations

from datetime import date, timedelta

DATA_DAY = 15
PUBLICATION_DAY = 25
MINIMUM_PAYMENT_CENTS = 5000


def month_start(period: str) -> date:
    return date(int(period[:4]), int(period[5:7]), 1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def previous_months(today: date, count: int) -> list[str]:
    """The ``count`` months before the one ``today`` is in, oldest first."""
    first = today.replace(day=1)
    out = []
    for _ in range(count):
        first = (first - timedelta(days=1)).replace(day=1)
        out.append(f"{first.year:04d}-{first.month:02d}")
    return sorted(out)


def _easter_sunday(year: int) -> date:
    # The Gregorian computus (Meeus/Jones/Butcher).
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return date(year, month, day + 1)


def is_working_day(day: date) -> bool:
    fixed = {(1, 1), (1, 6), (4, 25), (5, 1), (6, 2), (8, 15), (11, 1), (12, 8), (12, 25), (12, 26)}
    if day.weekday() >= 5 or (day.month, day.day) in fixed:
        return False
    return day != _easter_sunday(day.year) + timedelta(days=1)


def working_day_on_or_before(day: date) -> date:
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def advance_due_on(period: str) -> date:
    """Month M's advance: the last working day of M+1."""
    after = next_month(next_month(month_start(period)))
    return working_day_on_or_before(after - timedelta(days=1))


def true_up_due_on(year: int) -> date:
    return working_day_on_or_before(date(year + 1, 5, 15))
