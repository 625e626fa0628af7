"""The platform's calendar: Italian civil time (Europe/Rome).

Memberships, plant periods and market days are Italian calendar dates, so
"today" is decided here and nowhere else: between midnight and 01:00 (02:00
in summer) Italian time the UTC date is still yesterday's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

ITALY = ZoneInfo("Europe/Rome")


def italian_now(utc_now: datetime | None = None) -> datetime:
    """The current moment in Italian civil time (``utc_now``, if given, instead of the clock)."""
    return (utc_now or datetime.now(UTC)).astimezone(ITALY)


def italian_today(utc_now: datetime | None = None) -> date:
    """Today's date in Italy: the day periods and memberships are checked against."""
    return italian_now(utc_now).date()
