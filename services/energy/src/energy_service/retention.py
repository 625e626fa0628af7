"""InfluxDB retention and downsampling, set up by the service at start.

* Raw readings (``energy_data``, ``device_status``) live in the bucket's
  retention policy (``<db>/autogen``), kept ``raw_retention`` (13 months by
  default): long enough to compare a month with the same month last year.
* Quarter-hour settlement quantities are kept ten years in the ``settlement``
  policy, measurement ``energy_quarter``: the sums of produced, consumed,
  fed-in and withdrawn energy per plant, source and quarter hour. The GSE
  recalculates up to five years back and corrections arrive for 61 months.
  A continuous query fills it as readings arrive (re-sampling the last two
  hours, for late readings); ``downsample`` fills any range at once (after a
  distributor file is loaded, whose months are long past).

Quarter hours in ``energy_quarter`` are labelled by their start + 1 ns:
readings are stamped at the *end* of their interval, so the windows are
offset by 1 ns to put a reading stamped 10:15 into 10:00-10:15.

Off by default outside production: on a shared development InfluxDB a short
raw retention would make it refuse the demo's and tests' historical points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp

from energy_service.timeseries import (
    ENERGY_MEASUREMENT,
    QUARTER_MEASUREMENT,
    TimeSeriesUnavailable,
    _flux_time,
)

SETTLEMENT_POLICY = "settlement"
CONTINUOUS_QUERY = "cq_energy_quarter"
_FIELDS = ("energy_produced", "energy_consumed", "energy_fed_in", "energy_withdrawn")
_DURATION = re.compile(r"\d+[hdw]")
_IDENTIFIER = re.compile(r"[A-Za-z0-9_]+")
_GROUP = 'GROUP BY time(15m, 1ns), "plant_id", "source"'


def duration(value: str) -> timedelta:
    """An InfluxDB duration of the plan's kind (``396d``, ``24h``, ``2w``) as a timedelta."""
    if not _DURATION.fullmatch(value):
        raise ValueError(f"retention {value!r} is not an InfluxDB duration like 396d")
    unit = {"h": "hours", "d": "days", "w": "weeks"}[value[-1]]
    return timedelta(**{unit: int(value[:-1])})


@dataclass(frozen=True)
class RetentionPlan:
    raw: str = "396d"  # 13 months
    settlement: str = "3660d"  # ten years

    def __post_init__(self) -> None:
        for value in (self.raw, self.settlement):
            if not _DURATION.fullmatch(value):
                raise ValueError(f"retention {value!r} is not an InfluxDB duration like 396d")


class Retention:
    def __init__(self, url: str, token: str, bucket: str) -> None:
        self._url = url.rstrip("/") + "/query"
        user, _, password = token.partition(":")
        self._auth = aiohttp.BasicAuth(user, password)
        self.database, _, policy = bucket.partition("/")
        self.raw_policy = policy or "autogen"
        # Names go into InfluxQL statements: only plain identifiers (they come
        # from the service's settings, never from a request).
        for name in (self.database, self.raw_policy):
            if not _IDENTIFIER.fullmatch(name):
                raise ValueError(f"{name!r} is not a plain InfluxDB identifier")

    async def _influxql(self, statement: str) -> list[dict[str, object]]:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                self._url, data={"q": statement, "db": self.database}, auth=self._auth
            ) as response,
        ):
            body = await response.json(content_type=None)
        results: list[dict[str, object]] = body.get("results", []) if isinstance(body, dict) else []
        errors = [r["error"] for r in results if "error" in r] + (
            [body["error"]] if isinstance(body, dict) and "error" in body else []
        )
        if response.status != 200 or errors:
            raise TimeSeriesUnavailable(f"InfluxQL {statement[:60]!r}: {errors or response.status}")
        return results

    async def policies(self) -> dict[str, str]:
        """Retention policy name -> duration as InfluxDB reports it (e.g. 9504h0m0s)."""
        results = await self._influxql(f'SHOW RETENTION POLICIES ON "{self.database}"')
        series = results[0].get("series", []) if results else []
        out = {}
        for item in series:  # type: ignore[attr-defined]
            columns = item["columns"]
            for row in item["values"]:
                values = dict(zip(columns, row, strict=True))
                out[str(values["name"])] = str(values["duration"])
        return out

    async def continuous_queries(self) -> dict[str, str]:
        results = await self._influxql("SHOW CONTINUOUS QUERIES")
        out = {}
        for item in results[0].get("series", []) if results else []:  # type: ignore[attr-defined]
            if item.get("name") == self.database:
                for name, query in item.get("values", []):
                    out[name] = query
        return out

    async def apply(self, plan: RetentionPlan) -> None:
        """Create or alter both policies and (re)create the continuous query; idempotent."""
        existing = await self.policies()
        for name, duration in ((self.raw_policy, plan.raw), (SETTLEMENT_POLICY, plan.settlement)):
            verb = "ALTER" if name in existing else "CREATE"
            await self._influxql(
                f'{verb} RETENTION POLICY "{name}" ON "{self.database}" '
                f"DURATION {duration} REPLICATION 1"
            )
        if CONTINUOUS_QUERY in await self.continuous_queries():
            await self._influxql(f'DROP CONTINUOUS QUERY "{CONTINUOUS_QUERY}" ON "{self.database}"')
        await self._influxql(
            f'CREATE CONTINUOUS QUERY "{CONTINUOUS_QUERY}" ON "{self.database}" '
            f"RESAMPLE EVERY 15m FOR 2h BEGIN {self._select()} {_GROUP} END"
        )

    def _select(self, where: str = "") -> str:
        sums = ", ".join(f'sum("{f}") AS "{f}"' for f in _FIELDS)
        # Identifiers checked in __init__; times formatted here, never from a request.
        target = f'"{self.database}"."{SETTLEMENT_POLICY}"."{QUARTER_MEASUREMENT}"'
        source = f'"{self.database}"."{self.raw_policy}"."{ENERGY_MEASUREMENT}"'
        return f"SELECT {sums} INTO {target} FROM {source}{where}"  # noqa: S608

    async def downsample(self, start: datetime, end: datetime) -> None:
        """Quarter-hour sums of readings with start < timestamp <= end, written now."""
        where = f" WHERE time >= '{_flux_time(start)}' AND time < '{_flux_time(end)}'"
        await self._influxql(f"{self._select(where)} {_GROUP}")
