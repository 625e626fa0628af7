"""Benchmark of the economic service's zonal price import (run: `uv run python
bench/bench_price_import.py`, or `make bench`).

The service in process on its own database (real PostgreSQL), as a platform admin:
1. a year of the market operator's daily files in one ZIP (the demo year: hourly files to
   September, quarter-hour files from October, as the market publishes them) imported;
2. the same ZIP again (recognised, unchanged);
3. the year re-imported as corrections (other bytes, every price changed: all superseded, the
   old values kept);
4. a year of one zone's hours read back through GET /api/economic/prices/ in pages of 5,000.
Prints figures only; nothing here asserts on time.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from cacer.demo_prices import demo_year, to_market_zip
from cerc_shared import testing as kit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from machine import describe  # noqa: E402

YEAR = 2025
TOKENS = kit.TestTokens("bench-prices")


async def main() -> None:
    from economic_service.main import create_app
    from economic_service.settings import EconomicSettings

    dsn = kit.prepare_database("economic", "cerc_bench_economic", ROOT / "services" / "economic")
    settings = EconomicSettings(
        database_url=dsn, environment="test", consume_read_models=False, settle_jobs=False
    )
    days = demo_year(YEAR)
    data = to_market_zip(days)
    shifted = [
        replace(d, zones={z: tuple(v + Decimal("0.01") for v in vs) for z, vs in d.zones.items()})
        for d in days
    ]
    corrections = to_market_zip(shifted)
    headers = TOKENS.headers(1, "ADMIN")
    print(describe())
    print(f"demo year {YEAR}: {len(days)} days, ZIP {len(data) / 1e6:.2f} MB")
    async with (
        kit.running_app(create_app(settings), settings, TOKENS) as app,
        kit.asgi_client(app, "http://economic") as http,
    ):
        for label, body in (("first import", data), ("same ZIP again", data),
                            ("corrections", corrections)):  # fmt: skip
            began = time.perf_counter()
            response = await http.post(
                "/api/economic/prices/imports/", files={"file": ("y.zip", body)}, headers=headers
            )
            elapsed = time.perf_counter() - began
            if response.status_code not in (200, 201):
                raise SystemExit(f"{label}: {response.status_code} {response.text[:500]}")
            r = response.json()["data"]
            print(f"{label:>15}: {elapsed:6.2f} s  status {response.status_code}, "
                  f"{r['market_prices']} published prices, {r['hourly_added']} hourly added, "
                  f"{r['hourly_superseded']} superseded")  # fmt: skip
        began, page, rows = time.perf_counter(), 1, 0
        while True:
            response = await http.get(
                f"/api/economic/prices/?zone=NORD&from={YEAR}-01-01&to={YEAR}-12-31"
                f"&per_page=5000&page={page}",
                headers=TOKENS.headers(2),
            )
            got = response.json()["data"]
            rows += len(got)
            if len(got) < 5000:
                break
            page += 1
        print(f"{'read a year':>15}: {time.perf_counter() - began:6.2f} s  {rows} NORD hours, "
              f"{page} pages")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
