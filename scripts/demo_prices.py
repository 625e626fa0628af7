"""Load the demo year of zonal prices (cacer.demo_prices) through the gateway, as a platform
admin would load the market operator's files, and the TRASe the demo needs.

    uv run python scripts/demo_prices.py --username admin --password ... [--gateway URL]

Last year whole and this year to yesterday, one ZIP of daily files per year (from October
2025 quarter-hour files, as the market publishes them). Idempotent: the same ZIP again is
answered "unchanged". Not market data: see cacer/demo_prices.py.

TRASe is published by ARERA per year and the engine only carries sourced years (2024). So that
the demo community can be settled for recent months, a missing year gets the 2024 value, with a
source that says it is a demo value to replace; a year that has one is left alone.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

import httpx
from cacer.demo_prices import demo_year, to_market_zip
from cerc_shared.clock import italian_today
from demo_community import gateway_from_ports

DEMO_TRASE = "10.57"
DEMO_TRASE_SOURCE = "DEMO ONLY: the 2024 TRASe repeated, not an ARERA publication; replace it"


def check(response: httpx.Response, *ok: int) -> dict[str, Any]:
    if response.status_code not in ok:
        raise SystemExit(f"{response.request.method} {response.request.url}: "
                         f"{response.status_code} {response.text[:2000]}")  # fmt: skip
    body: dict[str, Any] = response.json()
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway", default=None)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    http = httpx.Client(base_url=args.gateway or gateway_from_ports(), timeout=120)
    login = check(http.post("/api/auth/login/", json={"username": args.username,
                                                      "password": args.password}), 200)  # fmt: skip
    headers = {"Authorization": f"Bearer {login['data']['access_token']}"}
    today = italian_today()
    for year in (today.year - 1, today.year):
        days = [d for d in demo_year(year) if d.day < today]
        data = to_market_zip(days)
        files = {"file": (f"demo-prezzi-{year}.zip", data)}
        answer = check(
            http.post("/api/economic/prices/imports/", headers=headers, files=files), 200, 201
        )
        record = answer["data"]
        state = "unchanged" if record["unchanged"] else f"{record['hourly_added']} hourly prices"
        print(f"demo zonal prices {year}: {record['days']} days, {state}")
    table = check(http.get("/api/economic/parameters/", headers=headers), 200)["data"]
    years = {
        date.fromisoformat(p["valid_from"]).year for p in table if p["name"] == "trase_eur_mwh"
    }
    for year in (today.year - 1, today.year):
        if year not in years:
            check(http.post("/api/economic/parameters/", headers=headers, json={
                "name": "trase_eur_mwh", "valid_from": f"{year}-01-01", "value": DEMO_TRASE,
                "source": DEMO_TRASE_SOURCE}), 200, 201)  # fmt: skip
            print(f"TRASe {year}: {DEMO_TRASE} €/MWh ({DEMO_TRASE_SOURCE})")


if __name__ == "__main__":
    main()
