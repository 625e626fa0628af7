"""A past month of official meter data and prices for the demo community, so that
`make dev` can settle it (ESTIMATE or PROVISIONAL), approve it and pay it out.

    uv run python scripts/demo_official_data.py [--gateway URL] [--month 2025-06]

The distributor's files are generated here, in its monthly quarter-hour CSV
layout (``Giorno;00:00-00:15;...``, decimal commas, one file per POD and
direction), from simple made-up profiles (a PV bell by day for the producing
plants, a household or workshop load for the consuming ones), zipped and
imported as the demo manager would, through the energy API. The month's hourly
NORD prices come from the economic service's `demo-prices` command (synthetic,
marked as such; an imported market file for those hours wins). Idempotent: the
same file again is "unchanged", prices already there are kept.
"""

from __future__ import annotations

import argparse
import io
import math
import subprocess
import sys
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import demo_community  # noqa: E402
import fleet  # noqa: E402

ITALY = ZoneInfo("Europe/Rome")
QUARTER = timedelta(minutes=15)
DEMO_MONTH = "2025-06"  # after the demo's members joined (2025-01-01); no clock change in it


def _quarters(day: date) -> list[datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=ITALY).astimezone(UTC)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=ITALY)
    out = []
    while start < end.astimezone(UTC):
        out.append(start)
        start += QUARTER
    return out


def _days(period: str) -> list[date]:
    year, month = (int(p) for p in period.split("-"))
    day, out = date(year, month, 1), []
    while day.month == month:
        out.append(day)
        day += timedelta(days=1)
    return out


def _pv_kwh(kw: float, local: datetime, day_index: int) -> float:
    """A clear-ish June day: a bell from 05:30 to 20:30, some days cloudier."""
    hour = local.hour + local.minute / 60 + 0.125
    if not 5.5 <= hour <= 20.5:
        return 0.0
    clouds = 0.65 + 0.35 * ((day_index * 7) % 5) / 4
    return kw * 0.8 * clouds * math.sin((hour - 5.5) / 15 * math.pi) ** 2 / 4


def _load_kwh(kw: float, local: datetime, workshop: bool) -> float:
    hour = local.hour + local.minute / 60
    if workshop:
        busy = local.weekday() < 5 and 8 <= hour < 18
        return kw * (0.55 if busy else 0.08) / 4
    morning = math.exp(-((hour - 7.5) ** 2) / 2)
    evening = math.exp(-((hour - 20) ** 2) / 4)
    return kw * (0.08 + 0.25 * morning + 0.45 * evening) / 4


def csv_month(period: str, value: Callable[[datetime, int], float]) -> bytes:
    labels = []
    for q in range(96):
        h, m = divmod(q * 15, 60)
        e = (q * 15 + 15) % (24 * 60)
        labels.append(f"{h:02d}:{m:02d}-{e // 60:02d}:{e % 60:02d}")
    lines = [";".join(["Giorno", *labels]) + ";"]
    for index, day in enumerate(_days(period)):
        quarters = _quarters(day)
        if len(quarters) != 96:
            raise SystemExit(f"{period} has a clock change: pick another demo month")
        cells = [f'"{value(q.astimezone(ITALY), index):.3f}"'.replace(".", ",") for q in quarters]
        lines.append(";".join([day.strftime("%d/%m/%Y"), *cells]) + ";")
    return ("\r\n".join(lines) + "\r\n").encode()


def month_zip(period: str) -> bytes:
    buffer = io.BytesIO()
    compact = period.replace("-", "")
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for owner, pod, kind, _, power, _ in demo_community.PLANTS:
            kw = float(power)
            workshop = owner == "demo-officina" or owner == "demo-comune"
            producing = kind in ("PRODUCER", "PROSUMER")
            consuming = kind in ("CONSUMER", "PROSUMER")

            def fed_in(
                local: datetime,
                i: int,
                kw: float = kw,
                producing: bool = producing,
                consuming: bool = consuming,
                workshop: bool = workshop,
            ) -> float:
                if not producing:
                    return 0.0
                own_use = _load_kwh(kw * 0.3, local, workshop) if consuming else 0.0
                return max(_pv_kwh(kw, local, i) - own_use, 0.0)  # fmt: skip

            def withdrawn(
                local: datetime,
                i: int,
                kw: float = kw,
                producing: bool = producing,
                consuming: bool = consuming,
                workshop: bool = workshop,
            ) -> float:
                if not consuming:
                    return 0.002  # a producer's auxiliaries
                load = _load_kwh(kw * (0.3 if producing else 1.0), local, workshop)
                solar = _pv_kwh(kw, local, i) if producing else 0.0
                return max(load - solar, 0.0)  # fmt: skip

            archive.writestr(f"{pod}_{compact}_immessa.csv", csv_month(period, fed_in))
            archive.writestr(f"{pod}_{compact}_prelevata.csv", csv_month(period, withdrawn))
    return buffer.getvalue()


def demo_prices(period: str, ports: dict[str, int], database: str) -> None:
    economic = next(s for s in fleet.FLEET if s.name == "economic")
    env = fleet.service_env(economic, ports, database)
    subprocess.run(
        [sys.executable, "-m", "economic_service.cli", "demo-prices", "--month", period],
        env=env, cwd=ROOT, check=True,
    )  # fmt: skip


def load(gateway: str, period: str) -> int:
    """Import the month's files as the demo manager; the community's id."""
    http = httpx.Client(base_url=gateway, timeout=120)
    login = http.post(
        "/api/auth/login/",
        json={"username": "demo-manager", "password": demo_community.PASSWORD},
    )
    login.raise_for_status()
    headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
    mine = http.get("/api/cer/?per_page=100", headers=headers).json()["data"]
    cid = next(int(c["id"]) for c in mine if c["code"] == demo_community.CODE)
    name = f"demo-{period}.zip"
    imported = http.post(
        "/api/energy/imports/",
        headers=headers,
        data={"community_id": str(cid)},
        files={"file": (name, month_zip(period), "application/zip")},
    )
    if imported.status_code not in (200, 201):
        raise SystemExit(f"import of {name}: {imported.status_code} {imported.text[:500]}")
    complete = http.get(
        f"/api/energy/completeness/?community_id={cid}&month={period}", headers=headers
    ).json()["data"]
    done = imported.json()["data"]
    print(f"Official data {period} for the demo community (id {cid}): "
          f"{'unchanged' if done['unchanged'] else str(done['values_written']) + ' values'}; "
          f"official {complete['official_hours']} of {complete['hours']} POD-hours, "
          f"complete: {complete['complete']}")  # fmt: skip
    return cid


def seed(
    gateway: str,
    period: str = DEMO_MONTH,
    ports: dict[str, int] | None = None,
    database: str = fleet.DEV_DATABASE,
) -> int:
    """Load the month into a fleet (`make dev`'s by default); the demo community's id."""
    cid = load(gateway, period)
    demo_prices(period, ports or fleet.read_ports(0), database)
    return cid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway", default=None)
    parser.add_argument("--month", default=DEMO_MONTH)
    args = parser.parse_args()
    seed(args.gateway or demo_community.gateway_from_ports(), args.month)


if __name__ == "__main__":
    main()
