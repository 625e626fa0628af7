"""A plausible, deterministic year of day-ahead zonal prices for the demo community, and the
market operator's file format to ship it in (so it is imported like real files).

Not market data: a shape that looks like the Italian day-ahead market (dearer in winter and in
the evening peak, a midday dip that deepens in the sunny months, cheaper at weekends, the South
cheaper at midday and the islands dearer), with day-to-day and hour-to-hour noise from a seeded
generator, so the same (year, seed) always gives the same prices.
"""

from __future__ import annotations

import io
import math
import random
import zipfile
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from cacer.hours import MARKET_TZ
from cacer.market_prices import (
    HOURLY_ROW,
    MARKET,
    QUARTER_HOUR_ROW,
    QUARTERS_PER_HOUR,
    DayPrices,
    day_hours,
)
from cacer.parameters import MarketZone

#: The market cleared per quarter hour from this day on; the demo does the same.
QUARTER_HOUR_MARKET_FROM = date(2025, 10, 1)
DEFAULT_SEED = 414  # the CACER decree's number

_MONTH_LEVEL = (128, 122, 108, 96, 92, 104, 118, 112, 108, 114, 122, 130)  # €/MWh
_ZONE_FACTOR = {
    MarketZone.NORD: 1.00,
    MarketZone.CNOR: 1.01,
    MarketZone.CSUD: 0.99,
    MarketZone.SUD: 0.96,
    MarketZone.CALA: 0.95,
    MarketZone.SICI: 1.07,
    MarketZone.SARD: 1.02,
}
_SOUTH = {MarketZone.SUD, MarketZone.CALA, MarketZone.SICI}
_CENT = Decimal("0.01")


def _shape(local_hour: int, month: int) -> float:
    """Relative price of a local clock hour: night trough, morning and evening peaks, and a
    midday dip as deep as the month is sunny."""
    sun = math.sin(math.pi * (month - 0.5) / 12) ** 2  # 0 in December, 1 in June
    morning = 0.12 * math.exp(-(((local_hour - 8.5) / 1.5) ** 2))
    evening = 0.30 * math.exp(-(((local_hour - 19.5) / 2.0) ** 2))
    midday = (0.10 + 0.25 * sun) * math.exp(-(((local_hour - 13.0) / 2.5) ** 2))
    night = -0.10 if local_hour < 6 else 0.0
    return 1.0 + morning + evening - midday + night


def _price(value: float) -> Decimal:
    return Decimal(repr(max(value, 0.0))).quantize(_CENT)


def demo_day(day: date, rng: random.Random, interval_minutes: int) -> DayPrices:
    start = datetime(day.year, day.month, day.day, tzinfo=MARKET_TZ).astimezone(UTC)
    weekend = 0.88 if day.weekday() >= 5 else 1.0
    level = _MONTH_LEVEL[day.month - 1] * weekend * (1 + rng.gauss(0, 0.08))
    hours = day_hours(day)
    hourly: dict[MarketZone, list[float]] = {z: [] for z in MarketZone}
    for h in range(hours):
        local_hour = (start + timedelta(hours=h)).astimezone(MARKET_TZ).hour
        common = level * _shape(local_hour, day.month) * (1 + rng.gauss(0, 0.04))
        midday = 10 <= local_hour <= 16
        for zone, factor in _ZONE_FACTOR.items():
            south = 0.93 if zone in _SOUTH and midday else 1.0
            hourly[zone].append(common * factor * south * (1 + rng.gauss(0, 0.01)))
    if interval_minutes == 60:
        zones = {z: tuple(_price(v) for v in values) for z, values in hourly.items()}
    else:
        zones = {
            z: tuple(
                _price(v * (1 + 0.015 * (q - 1.5)) + rng.gauss(0, 0.5))
                for v in values
                for q in range(QUARTERS_PER_HOUR)
            )
            for z, values in hourly.items()
        }
    pun = tuple(
        (sum((zones[z][k] for z in MarketZone), Decimal(0)) / len(MarketZone)).quantize(_CENT)
        for k in range(len(zones[MarketZone.NORD]))
    )
    return DayPrices(day=day, interval_minutes=interval_minutes, zones=zones, pun=pun)


def demo_year(
    year: int,
    seed: int = DEFAULT_SEED,
    quarter_hour_from: date | None = QUARTER_HOUR_MARKET_FROM,
) -> list[DayPrices]:
    """Every day of `year`: hourly files, quarter-hour files from `quarter_hour_from` on."""
    # Not for secrets: a seeded generator, so that the demo is the same on every machine.
    rng = random.Random(f"cercollettiva-demo-prices:{year}:{seed}")  # noqa: S311
    day = date(year, 1, 1)
    days = []
    while day.year == year:
        quarter = quarter_hour_from is not None and day >= quarter_hour_from
        days.append(demo_day(day, rng, 15 if quarter else 60))
        day += timedelta(days=1)
    return days


def _number(value: Decimal) -> str:
    return f"{value:f}".replace(".", ",")


def to_market_xml(day: DayPrices) -> bytes:
    """The day in the market operator's format (decimal commas, ISO-8859-1 as it publishes)."""
    quarter = day.interval_minutes == 15
    row, index = (QUARTER_HOUR_ROW, "Periodo") if quarter else (HOURLY_ROW, "Ora")
    out = ['<?xml version="1.0" encoding="ISO-8859-1"?>', "<NewDataSet>"]
    count = len(next(iter(day.zones.values())))
    for k in range(count):
        fields = [
            f"<Data>{day.day:%Y%m%d}</Data>",
            f"<Mercato>{MARKET}</Mercato>",
            f"<{index}>{k + 1}</{index}>",
        ]
        if quarter:
            fields.append("<Granularity>PT15</Granularity>")
        if day.pun is not None:
            fields.append(f"<PUN>{_number(day.pun[k])}</PUN>")
        fields += [f"<{z.value}>{_number(v[k])}</{z.value}>" for z, v in day.zones.items()]
        out.append(f"  <{row}>{''.join(fields)}</{row}>")
    out.append("</NewDataSet>")
    return ("\n".join(out) + "\n").encode("iso-8859-1")


def to_market_zip(days: Iterable[DayPrices]) -> bytes:
    """Days as the operator's daily files in one ZIP (`YYYYMMDDMGPPrezzi[15].xml`)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for d in days:
            suffix = "15" if d.interval_minutes == 15 else ""
            # A fixed timestamp per member, so the same days always give the same bytes.
            member = zipfile.ZipInfo(
                f"{d.day:%Y%m%d}MGPPrezzi{suffix}.xml",
                (d.day.year, d.day.month, d.day.day, 0, 0, 0),
            )
            member.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(member, to_market_xml(d))
    return buffer.getvalue()
