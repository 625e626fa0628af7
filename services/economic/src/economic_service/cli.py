"""Operator commands of the economic service.

`python -m economic_service.cli demo-prices --month YYYY-MM [--zone NORD]`: a synthetic
hourly zonal price curve for a month, for the development fleet's demo settlement only
(source ``demo-synthetic``, a plausible daily shape around 100 €/MWh, not market data).
Hours that already have a price (an imported market file) keep theirs. When neither the
engine's table nor the service's has a TRASe for the month's year, the engine's latest
year is carried forward for the demo, its source saying so plainly (a platform admin
enters the real ARERA figure in its place).
"""

from __future__ import annotations

import argparse
import asyncio
import math
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from cacer.parameters import TRASE_EUR_MWH_BY_YEAR
from cerc_shared import db
from cerc_shared.clock import ITALY

from economic_service import repository
from economic_service.service.engine_input import month_bounds
from economic_service.settings import EconomicSettings

DEMO_SOURCE = "demo-synthetic"


def demo_curve(period: str, zone: str) -> list[tuple[str, datetime, Decimal, str]]:
    start, end = month_bounds(period)
    at = datetime.combine(start, time(), ITALY).astimezone(UTC)
    stop = datetime.combine(end, time(), ITALY).astimezone(UTC)
    rows = []
    while at < stop:
        local = at.astimezone(ITALY)
        # Cheap at midday (solar), dear in the evening peak, a little dearer on weekdays.
        shape = 18 * math.cos((local.hour - 13) / 24 * 2 * math.pi) - 12 * math.exp(
            -((local.hour - 19) ** 2) / 4
        )
        weekday = 6 if local.weekday() < 5 else -4
        price = Decimal(100 - shape + weekday).quantize(Decimal("0.01"))
        rows.append((zone, at, price, DEMO_SOURCE))
        at += timedelta(hours=1)
    return rows


async def _demo_prices(period: str, zone: str) -> tuple[int, str]:
    settings = EconomicSettings()
    engine = db.create_engine(settings)
    year = int(period[:4])
    try:
        async with db.create_sessionmaker(engine)() as session, session.begin():
            added = await repository.insert_missing_prices(session, demo_curve(period, zone))
            trase = "engine table"
            if year not in TRASE_EUR_MWH_BY_YEAR:
                latest = max(TRASE_EUR_MWH_BY_YEAR)
                carried = await repository.insert_trase_if_absent(
                    session,
                    year,
                    TRASE_EUR_MWH_BY_YEAR[latest].value,
                    f"DEMO ONLY: TRASe {latest} carried forward to {year}, not an ARERA figure",
                    created_by=0,
                )
                trase = f"TRASe {year}: " + ("demo value added" if carried else "already set")
            return added, trase
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="economic-service")
    sub = parser.add_subparsers(dest="command", required=True)
    prices = sub.add_parser("demo-prices", help="synthetic hourly prices for a demo month")
    prices.add_argument("--month", required=True, help="YYYY-MM")
    prices.add_argument("--zone", default="NORD")
    args = parser.parse_args()
    added, trase = asyncio.run(_demo_prices(args.month, args.zone))
    print(f"demo prices {args.zone} {args.month}: {added} hours added; {trase}")


if __name__ == "__main__":
    main()
