"""The time-series port and its InfluxDB adapter.

Everything the service does with time series goes through
:class:`TimeSeriesStore`; :class:`InfluxTimeSeries` is the only code that
knows InfluxDB (line protocol, Flux, the 1.8 ``user:password`` token). If the
store changes, this module changes and nothing else.

Point identity. InfluxDB keeps one point per (measurement, tag set,
timestamp) and overwrites it when written again. The tag set of a reading is
always exactly ``plant_id``, ``device_id``, ``source`` (sorted, as line
protocol wants them), so the same reading written twice, or redelivered by
Kafka, is stored once. That is what makes ingestion idempotent.

Interval-ending timestamps. A reading's energy is for the interval that
*ends* at its timestamp (see ``cerc_shared.events.iot``): a reading stamped
10:00 belongs to the hour 09:00-10:00. So time ranges are half-open on the
left, ``start < timestamp <= end``, and buckets are ``(start, end]``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp
import orjson
from cerc_shared.events.iot import READING_FIELDS, ReadingSource
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.rest import ApiException

ENERGY_MEASUREMENT = "energy_data"
STATUS_MEASUREMENT = "device_status"
# The downsampled quarter hours, kept ten years in their own policy (retention.py).
QUARTER_MEASUREMENT = "energy_quarter"
QUARTER_NS = 15 * 60 * 10**9
RAW_MARGIN = timedelta(days=1)
QUARTER = timedelta(minutes=15)

# The specification's field names in InfluxDB, and the names the API uses
# (the event catalogue's, with units).
ENERGY_FIELDS: Mapping[str, str] = {
    field: field.removesuffix("_kwh").removesuffix("_kw") for field in READING_FIELDS
}
_API_NAME = {stored: api for api, stored in ENERGY_FIELDS.items()}

Source = ReadingSource
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TimeSeriesUnavailable(Exception):
    """The store cannot be reached or is failing; the same write may succeed later."""


class TimeSeriesRejected(Exception):
    """The store refused the data itself; writing it again will not help."""


class InvalidPoint(TimeSeriesRejected):
    """A point that cannot be represented (empty or control characters in a tag)."""


@dataclass(frozen=True, slots=True)
class EnergyPoint:
    plant_id: int
    device_id: str
    source: str
    timestamp: datetime
    # API names (``energy_produced_kwh``...) to values; None values are left out.
    values: Mapping[str, float | None]


@dataclass(frozen=True, slots=True)
class DeviceStatusPoint:
    plant_id: int
    device_id: str
    timestamp: datetime
    status: str
    last_seen: datetime | None = None
    battery_level: float | None = None
    signal_strength: float | None = None


Point = EnergyPoint | DeviceStatusPoint


@dataclass(frozen=True)
class SeriesQuery:
    """Which readings: ``start < timestamp <= end``; ``plant_ids`` None means every plant.

    ``spans``, when given, keeps of each plant only the readings with
    ``span_start < timestamp <= span_end`` in one of its spans (None: open),
    and leaves out plants it does not name: the days a caller held a role for
    the plant (``RegistryReader.access_periods``)."""

    start: datetime
    end: datetime
    plant_ids: Sequence[int] | None = None
    device_id: str | None = None
    source: str | None = None
    spans: Mapping[int, Sequence[Span]] | None = None

    def in_spans(self, plant_id: int, interval_start: datetime, interval_end: datetime) -> bool:
        """Whether the readings of ``(interval_start, interval_end]`` are in a span of the plant."""
        if self.spans is None:
            return True
        return in_spans(self.spans.get(plant_id, ()), interval_start, interval_end)


def in_spans(spans: Sequence[Span], interval_start: datetime, interval_end: datetime) -> bool:
    """Whether ``(interval_start, interval_end]`` is in one of ``spans``."""
    for begin, end in spans:
        if (begin is None or begin <= interval_start) and (end is None or interval_end <= end):
            return True
    return False


Span = tuple[datetime | None, datetime | None]


@dataclass(frozen=True, slots=True)
class RawReading:
    timestamp: datetime
    plant_id: int
    device_id: str
    source: str
    values: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EnergySum:
    """Energy of one plant from one source in the interval ``(start, start + every]``."""

    plant_id: int
    source: str
    start: datetime
    energy_produced_kwh: float
    energy_consumed_kwh: float
    energy_fed_in_kwh: float = 0.0
    energy_withdrawn_kwh: float = 0.0
    # Stored field names with data in the interval: a quantity not measured
    # is not the same as zero (an absent exchange is derived, quantities.py).
    measured: frozenset[str] = frozenset()


ENERGY_SUM_FIELDS = ("energy_produced", "energy_consumed", "energy_fed_in", "energy_withdrawn")
# The fields measured in a row, by which of its four sums are not null (one set each, not
# one a row: a dashboard read parses a few hundred rows).
_MEASURED: dict[tuple[bool, ...], frozenset[str]] = {
    present: frozenset(f for f, there in zip(ENERGY_SUM_FIELDS, present, strict=True) if there)
    for present in itertools.product((False, True), repeat=4)
}


class TimeSeriesStore(Protocol):
    async def write(self, points: Sequence[Point], *, notify: bool = True) -> None:
        """Store the points; raise TimeSeriesRejected or TimeSeriesUnavailable.
        ``notify=False``: the caller tells the write's listeners itself (the ingestion)."""

    async def raw_page(
        self, query: SeriesQuery, *, offset: int, limit: int
    ) -> tuple[list[RawReading], int]:
        """One page of readings in time order, and how many there are in all."""

    async def energy_sums(self, query: SeriesQuery, every: timedelta) -> list[EnergySum]:
        """Energy per plant, source and interval of ``every`` (aligned to UTC)."""

    def raw_kept_after(self) -> datetime | None:
        """Raw readings stamped before this are (or soon will be) gone; None: kept for ever."""

    async def write_quarters(self, points: Sequence[EnergyPoint]) -> None:
        """Quarter-hour points (one plant, source and quarter each, stamped at its end) into
        the long-kept quarter-hour series too; nothing when there is none."""

    async def device_ids(self, plant_id: int) -> set[str]:
        """The device ids the plant's readings carry (every source)."""

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


# ------------------------------------------------------------- line protocol


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_tag(value: str) -> str:
    if not value or len(value) > 200 or _CONTROL.search(value):
        raise InvalidPoint(f"tag value {value!r} is empty, too long or has control characters")
    if value.endswith("\\"):
        raise InvalidPoint(f"tag value {value!r} ends with a backslash")
    return value.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


# Tag values (device ids, sources) already checked, escaped. A fleet has a
# hundred thousand devices and each one's readings come again every few
# seconds; emptied when full, so a stream of new ids cannot grow it unbounded.
_TAGS: dict[str, str] = {}
_TAGS_MAX = 250_000


def _tag(value: str) -> str:
    escaped = _TAGS.get(value)
    if escaped is None:
        escaped = _check_tag(value)
        if len(_TAGS) >= _TAGS_MAX:
            _TAGS.clear()
        _TAGS[value] = escaped
    return escaped


def _ns(timestamp: datetime) -> int:
    if timestamp.tzinfo is None:
        raise InvalidPoint("timestamp without a timezone")
    delta = timestamp - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


# Timestamps in line protocol by instant: the readings of a fleet share a few
# (devices report on the same clock ticks). Emptied when full.
_STAMPS: dict[datetime, str] = {}
_STAMPS_MAX = 4096


def _stamp(timestamp: datetime) -> str:
    if timestamp.tzinfo is None:
        raise InvalidPoint("timestamp without a timezone")
    stamp = _STAMPS.get(timestamp)
    if stamp is None:
        stamp = str(_ns(timestamp))
        if len(_STAMPS) >= _STAMPS_MAX:
            _STAMPS.clear()
        _STAMPS[timestamp] = stamp
    return stamp


def _float(value: float) -> str:
    # repr is the shortest exact form; inf and nan are not numbers InfluxDB
    # accepts, and it says so (the batch is then dead-lettered).
    return repr(float(value))


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_FIELD_KEYS: Mapping[str, str] = {api: f"{stored}=" for api, stored in ENERGY_FIELDS.items()}


def to_line(point: Point) -> str:
    """One point in line protocol; tags in sorted order (plant_id, device_id, source)."""
    if isinstance(point, EnergyPoint):
        fields = ",".join(
            [
                _FIELD_KEYS[name] + repr(float(value))
                for name, value in point.values.items()
                if value is not None
            ]
        )
        if not fields:
            raise InvalidPoint("a reading with no measured value")
        return (
            f"{ENERGY_MEASUREMENT},device_id={_tag(point.device_id)},plant_id={point.plant_id},"
            f"source={_tag(point.source)} {fields} {_stamp(point.timestamp)}"
        )
    device = _check_tag(point.device_id)
    parts = [f"status={_string(point.status)}"]
    if point.last_seen is not None:
        parts.append(f"last_seen={_string(point.last_seen.astimezone(UTC).isoformat())}")
    if point.battery_level is not None:
        parts.append(f"battery_level={_float(point.battery_level)}")
    if point.signal_strength is not None:
        parts.append(f"signal_strength={_float(point.signal_strength)}")
    return (
        f"{STATUS_MEASUREMENT},device_id={device},plant_id={point.plant_id} "
        f"{','.join(parts)} {_ns(point.timestamp)}"
    )


# ---------------------------------------------------------------------- flux


def _flux_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${") + '"'


def _flux_time(value: datetime) -> str:
    # Ranges are (start, end]; Flux's range is [start, stop): shift both by 1 ns.
    ns = _ns(value) + 1
    seconds, rest = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{rest:09d}Z"


def _flux_spans(spans: Mapping[int, Sequence[Span]]) -> str:
    """A Flux predicate: the row's plant is one of ``spans`` and its time in one of its spans."""
    alternatives = []
    for plant_id, plant_spans in sorted(spans.items()):
        for begin, end in plant_spans:
            terms = [f'r.plant_id == "{int(plant_id)}"']
            if begin is not None:
                terms.append(f"r._time >= {_flux_time(begin)}")
            if end is not None:
                terms.append(f"r._time < {_flux_time(end)}")
            alternatives.append("(" + " and ".join(terms) + ")")
    return " or ".join(alternatives) or "false"


def _influxql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _influxql_ident(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class InfluxTimeSeries:
    """The InfluxDB adapter (1.8 with the v2 API and flux, or 2.x)."""

    def __init__(
        self,
        url: str,
        token: str,
        org: str,
        bucket: str,
        timeout_s: float = 30.0,
        *,
        settlement_policy: str | None = None,
        raw_retention: timedelta | None = None,
    ) -> None:
        self._url = url
        # The downsampled quarter hours (retention.py) and how long raw readings stay: reads
        # older than that fall back on the quarter hours, imports write both. None: no
        # downsampled series (a development database with one policy kept for ever).
        self._settlement_policy = settlement_policy
        self._raw_retention = raw_retention
        self._token = token
        self._org = org
        self._bucket = bucket
        self._client = InfluxDBClientAsync(
            url=url, token=token, org=org, timeout=int(timeout_s * 1000)
        )
        # Writes are a plain POST of line protocol to /api/v2/write: the
        # client's write API cost ~370 us of CPU a call on the bench machine,
        # this ~270 us (queries still go through the client).
        self._write_url = f"{url.rstrip('/')}/api/v2/write"
        self._write_params = {"org": org, "bucket": bucket, "precision": "ns"}
        database = bucket.partition("/")[0]
        self._quarter_params = {
            "org": org,
            "bucket": f"{database}/{settlement_policy}",
            "precision": "ns",
        }
        # Energy sums go through InfluxQL (/query): on 1.8 a Flux window sum
        # of a day's quarter hours cost ~70 ms (Flux engine start-up and the
        # client's CSV parsing), the same InfluxQL ~7 ms (bench/bench_energy_reads.py).
        # 2.x serves /query too, through a DBRP mapping of the bucket.
        self._query_url = f"{url.rstrip('/')}/query"
        user, _, password = token.partition(":")
        self._query_headers = {
            "Authorization": aiohttp.BasicAuth(user, password).encode(),
            "Content-Type": "application/x-www-form-urlencoded",
            # Uncompressed: gzip cost InfluxDB ~0.1 ms of CPU and this process its inflating
            # on each dashboard read (a plant's day: 1.4 kB either way).
            "Accept-Encoding": "identity",
        }
        self._database, _, policy = bucket.partition("/")
        self._policy = policy or "autogen"
        self._http = aiohttp.ClientSession(
            headers={"Authorization": f"Token {token}"},
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        )
        # Told after each successful write (the precomputed hourly sums mark
        # the plant-hours written: hourly/service.py); None: nobody listens.
        self.on_written: Callable[[Sequence[Point]], Awaitable[None]] | None = None

    @property
    def bucket(self) -> str:
        return self._bucket

    async def close(self) -> None:
        await self._http.close()
        await self._client.close()  # type: ignore[no-untyped-call]

    async def ping(self) -> None:
        if not await self._client.ping():
            raise TimeSeriesUnavailable("InfluxDB does not answer its health check")

    async def ensure_bucket(self) -> None:
        """Create the bucket's database (1.8: ``database/retention-policy``) if absent.

        For development and tests; production provisions it."""
        database = self._bucket.split("/", 1)[0]
        user, _, password = self._token.partition(":")
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{self._url}/query",
                data={"q": f'CREATE DATABASE "{database}"'},
                auth=aiohttp.BasicAuth(user, password),
            ) as response,
        ):
            body = await response.text()
            if response.status != 200 or '"error"' in body:
                raise TimeSeriesUnavailable(f"cannot create database {database}: {body}")

    # -- writes

    async def write(self, points: Sequence[Point], *, notify: bool = True) -> None:
        if not points:
            return
        await self.write_lines([to_line(p) for p in points])
        if notify and self.on_written is not None:
            await self.on_written(points)

    async def write_lines(self, lines: Sequence[str]) -> None:
        await self._write_lines(lines, self._write_params)

    async def _write_lines(self, lines: Sequence[str], params: Mapping[str, str]) -> None:
        body = "\n".join(lines).encode()
        try:
            async with self._http.post(self._write_url, params=params, data=body) as response:
                if 200 <= response.status < 300:
                    return
                status = response.status
                message = (await response.text(errors="replace")).strip()[:500] or (
                    response.reason or "no message"
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TimeSeriesUnavailable(f"{type(exc).__name__}: {exc}") from exc
        # 400 (unparsable, out of range, field type conflict) and 422 are
        # about the data; anything else (auth, missing bucket, 5xx, 429) is
        # about the store and is retried.
        if status in (400, 422):
            raise TimeSeriesRejected(message)
        raise TimeSeriesUnavailable(f"HTTP {status}: {message}")

    def raw_kept_after(self) -> datetime | None:
        if self._raw_retention is None or self._settlement_policy is None:
            return None
        # A day's margin: InfluxDB drops whole shard groups, and a write close to the horizon
        # may be refused by the time it arrives; such hours are read from the quarter hours.
        return datetime.now(UTC) - self._raw_retention + RAW_MARGIN

    async def write_quarters(self, points: Sequence[EnergyPoint]) -> None:
        if self._settlement_policy is None or not points:
            return
        lines = []
        for point in points:
            fields = ",".join(
                f"{ENERGY_FIELDS[name]}={float(value)!r}"
                for name, value in point.values.items()
                if value is not None
            )
            if not fields:
                raise InvalidPoint("a reading with no measured value")
            # Labelled by the quarter's start + 1 ns, as the continuous query labels it.
            label = _ns(point.timestamp) - QUARTER_NS + 1
            lines.append(
                f"{QUARTER_MEASUREMENT},plant_id={point.plant_id},source={_tag(point.source)} "
                f"{fields} {label}"
            )
        await self._write_lines(lines, self._quarter_params)
        if self.on_written is not None:
            await self.on_written(points)

    def _selection(self, query: SeriesQuery, fields: Sequence[str] | None) -> str:
        parts = [
            f"from(bucket: {_flux_string(self._bucket)})",
            f"|> range(start: {_flux_time(query.start)}, stop: {_flux_time(query.end)})",
            f'|> filter(fn: (r) => r._measurement == "{ENERGY_MEASUREMENT}")',
        ]
        if query.plant_ids is not None:
            ids = ", ".join(_flux_string(str(int(p))) for p in query.plant_ids)
            parts.append(f"|> filter(fn: (r) => contains(value: r.plant_id, set: [{ids}]))")
        if query.spans is not None:
            parts.append(f"|> filter(fn: (r) => {_flux_spans(query.spans)})")
        if query.device_id is not None:
            parts.append(f"|> filter(fn: (r) => r.device_id == {_flux_string(query.device_id)})")
        if query.source is not None:
            parts.append(f"|> filter(fn: (r) => r.source == {_flux_string(query.source)})")
        if fields is not None:
            wanted = " or ".join(f'r._field == "{f}"' for f in fields)
            parts.append(f"|> filter(fn: (r) => {wanted})")
        return "\n  ".join(parts)

    async def _query(self, flux: str) -> list[dict[str, Any]]:
        try:
            tables = await self._client.query_api().query(flux, org=self._org)
        except ApiException as exc:
            raise TimeSeriesUnavailable(f"HTTP {exc.status}: {_api_message(exc)}") from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TimeSeriesUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return [record.values for table in tables for record in table.records]

    async def raw_page(
        self, query: SeriesQuery, *, offset: int, limit: int
    ) -> tuple[list[RawReading], int]:
        if (query.plant_ids is not None and not query.plant_ids) or query.spans == {}:
            return [], 0
        kept_after = self.raw_kept_after()
        # As energy_sums: before the horizon the quarter hours answer (a device filter cannot
        # be answered from them). Split at the horizon rather than merged, so the older part
        # all comes first in time order and a page is an offset into one or the other.
        if kept_after is None or query.start >= kept_after or query.device_id is not None:
            return await self._raw_page(query, offset=offset, limit=limit)
        expired = SeriesQuery(
            start=query.start,
            end=min(query.end, kept_after),
            plant_ids=query.plant_ids,
            source=query.source,
            spans=query.spans,
        )
        quarters, quarter_total = await self._quarter_page(expired, offset=offset, limit=limit)
        if query.end <= kept_after:
            return quarters, quarter_total
        recent = SeriesQuery(
            start=kept_after,
            end=query.end,
            plant_ids=query.plant_ids,
            source=query.source,
            spans=query.spans,
        )
        rest = limit - len(quarters)
        readings, raw_total = await self._raw_page(
            recent, offset=max(0, offset - quarter_total), limit=max(rest, 0)
        )
        return quarters + readings[: max(rest, 0)], quarter_total + raw_total

    async def _quarter_page(
        self, query: SeriesQuery, *, offset: int, limit: int
    ) -> tuple[list[RawReading], int]:
        """The downsampled quarter hours as readings, one per plant, source and quarter, stamped
        at the quarter's end; their ``device_id`` is the series' name (no device is kept)."""
        assert self._settlement_policy is not None  # raw_kept_after() said so
        # Labelled by the quarter's start + 1 ns: shifted back onto its end, the filters and
        # the order are the raw readings' own.
        parts = [
            f"from(bucket: {_flux_string(f'{self._database}/{self._settlement_policy}')})",
            f"|> range(start: {_flux_time(query.start - QUARTER)}, stop: {_flux_time(query.end)})",
            f'|> filter(fn: (r) => r._measurement == "{QUARTER_MEASUREMENT}")',
            f"|> timeShift(duration: {QUARTER_NS - 1}ns)",
            f"|> filter(fn: (r) => r._time >= {_flux_time(query.start)}"
            f" and r._time < {_flux_time(query.end)})",
        ]
        if query.plant_ids is not None:
            ids = ", ".join(_flux_string(str(int(p))) for p in query.plant_ids)
            parts.append(f"|> filter(fn: (r) => contains(value: r.plant_id, set: [{ids}]))")
        if query.spans is not None:
            parts.append(f"|> filter(fn: (r) => {_flux_spans(query.spans)})")
        if query.source is not None:
            parts.append(f"|> filter(fn: (r) => r.source == {_flux_string(query.source)})")
        parts.append('|> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")')
        parts.append("|> group()")
        points = "\n  ".join(parts)
        counted = await self._query(points + '\n  |> count(column: "plant_id")')
        total = int(counted[0]["plant_id"]) if counted else 0
        if limit <= 0 or offset >= total:
            return [], total
        rows = await self._query(
            points
            + '\n  |> sort(columns: ["_time", "plant_id", "source"])'
            + f"\n  |> limit(n: {int(limit)}, offset: {int(offset)})"
        )
        readings = [
            RawReading(
                timestamp=row["_time"],
                plant_id=int(row["plant_id"]),
                device_id=QUARTER_MEASUREMENT,
                source=str(row["source"]),
                values={api: _opt_float(row.get(stored)) for stored, api in _API_NAME.items()},
            )
            for row in rows
        ]
        return readings, total

    async def _raw_page(
        self, query: SeriesQuery, *, offset: int, limit: int
    ) -> tuple[list[RawReading], int]:
        points = (
            self._selection(query, None)
            + '\n  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
            + "\n  |> group()"
        )
        counted = await self._query(points + '\n  |> count(column: "device_id")')
        total = int(counted[0]["device_id"]) if counted else 0
        if total == 0 or offset >= total:
            return [], total
        rows = await self._query(
            points
            + '\n  |> sort(columns: ["_time", "plant_id", "device_id", "source"])'
            + f"\n  |> limit(n: {int(limit)}, offset: {int(offset)})"
        )
        readings = [
            RawReading(
                timestamp=row["_time"],
                plant_id=int(row["plant_id"]),
                device_id=str(row["device_id"]),
                source=str(row["source"]),
                values={api: _opt_float(row.get(stored)) for stored, api in _API_NAME.items()},
            )
            for row in rows
        ]
        return readings, total

    async def energy_sums(self, query: SeriesQuery, every: timedelta) -> list[EnergySum]:
        if (query.plant_ids is not None and not query.plant_ids) or query.spans == {}:
            return []
        raw = await self._sums(query, every, self._policy, ENERGY_MEASUREMENT)
        kept_after = self.raw_kept_after()
        # Quarter hours of a source are whole; a device filter or a finer step cannot be
        # answered from them, and a range after the horizon needs no fallback.
        if (
            kept_after is None
            or query.start >= kept_after
            or query.device_id is not None
            or int(every.total_seconds()) % (QUARTER_NS // 10**9)
        ):
            return raw
        older = SeriesQuery(
            start=query.start,
            end=min(query.end, kept_after),
            plant_ids=query.plant_ids,
            source=query.source,
        )
        assert self._settlement_policy is not None  # raw_kept_after() said so
        quarters = await self._sums(older, every, self._settlement_policy, QUARTER_MEASUREMENT)
        # Raw readings, while they last, are the truth; the quarter hours fill what expired.
        have = {(s.plant_id, s.source, s.start) for s in raw}
        merged = raw + [s for s in quarters if (s.plant_id, s.source, s.start) not in have]
        merged.sort(key=lambda s: (s.plant_id, s.source, s.start))
        return merged

    async def _sums(
        self, query: SeriesQuery, every: timedelta, policy: str, measurement: str
    ) -> list[EnergySum]:
        sums = ", ".join(f'sum("{f}") AS "{f}"' for f in ENERGY_SUM_FIELDS)
        where = [
            f"time >= '{_flux_time(query.start)}'",
            f"time < '{_flux_time(query.end)}'",
        ]
        if query.plant_ids is not None:
            ids = " OR ".join(f"\"plant_id\" = '{int(p)}'" for p in query.plant_ids)
            where.append(f"({ids})")
        if query.device_id is not None:
            where.append(f'"device_id" = {_influxql_string(query.device_id)}')
        if query.source is not None:
            where.append(f'"source" = {_influxql_string(query.source)}')
        step = int(every.total_seconds())
        database = _influxql_ident(self._database)
        target = f"{database}.{_influxql_ident(policy)}.{_influxql_ident(measurement)}"
        # Interval-ending readings: windows offset by 1 ns put the one stamped
        # 10:00 into 09:00-10:00 (labelled 09:00:00.000000001). The quarter hours are labelled
        # by their start + 1 ns, so the same windows hold them.
        grouping = f'GROUP BY time({step}s, 1ns), "plant_id", "source" fill(none)'
        statement = f"SELECT {sums} FROM {target} WHERE {' AND '.join(where)} {grouping}"  # noqa: S608
        out = []
        for series in await self._influxql(statement):
            tags = series.get("tags", {})
            plant_id, source = int(tags["plant_id"]), str(tags["source"])
            spans = None if query.spans is None else query.spans.get(plant_id, ())
            for at_ns, produced, consumed, fed_in, withdrawn in series.get("values", []):
                measured = _MEASURED[
                    (produced is not None, consumed is not None,
                     fed_in is not None, withdrawn is not None)
                ]  # fmt: skip
                if not measured:
                    continue
                start = datetime.fromtimestamp((int(at_ns) // 10**9) // step * step, UTC)
                if spans is not None and not in_spans(spans, start, start + every):
                    continue
                out.append(
                    EnergySum(
                        plant_id=plant_id,
                        source=source,
                        start=start,
                        energy_produced_kwh=float(produced or 0.0),
                        energy_consumed_kwh=float(consumed or 0.0),
                        energy_fed_in_kwh=float(fed_in or 0.0),
                        energy_withdrawn_kwh=float(withdrawn or 0.0),
                        measured=measured,
                    )
                )
        return out

    async def device_ids(self, plant_id: int) -> set[str]:
        database, policy = _influxql_ident(self._database), _influxql_ident(self._policy)
        statement = (
            f'SHOW TAG VALUES FROM {database}.{policy}."{ENERGY_MEASUREMENT}" '
            f'WITH KEY = "device_id" WHERE "plant_id" = \'{int(plant_id)}\''
        )
        return {
            str(value) for series in await self._influxql(statement)
            for _, value in series.get("values", [])
        }  # fmt: skip

    async def _influxql(self, statement: str) -> list[dict[str, Any]]:
        """The series of one InfluxQL statement (POSTed: a community's plant list is long)."""
        try:
            async with self._http.post(
                self._query_url,
                # Encoded here: aiohttp's form handling of a dict cost more than the encoding.
                data=urlencode({"db": self._database, "q": statement, "epoch": "ns"}).encode(),
                headers=self._query_headers,
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TimeSeriesUnavailable(f"{type(exc).__name__}: {exc}") from exc
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = {}
        results = body.get("results", []) if isinstance(body, dict) else []
        error = (body.get("error") if isinstance(body, dict) else None) or next(
            (r["error"] for r in results if "error" in r), None
        )
        if status != 200 or error:
            raise TimeSeriesUnavailable(f"HTTP {status}: {error or raw[:300]!r}")
        series: list[dict[str, Any]] = results[0].get("series", []) if results else []
        return series

    async def count_points(self, measurement: str, start: datetime, end: datetime) -> int:
        """How many points of ``measurement`` (one field counted); for tests and the bench."""
        field_name = "status" if measurement == STATUS_MEASUREMENT else None
        flux = (
            f"from(bucket: {_flux_string(self._bucket)})"
            f"\n  |> range(start: {_flux_time(start)}, stop: {_flux_time(end)})"
            f"\n  |> filter(fn: (r) => r._measurement == {_flux_string(measurement)})"
            + (f'\n  |> filter(fn: (r) => r._field == "{field_name}")' if field_name else "")
            + '\n  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
            + '\n  |> group()\n  |> count(column: "device_id")'
        )
        rows = await self._query(flux)
        return int(rows[0]["device_id"]) if rows else 0


def _opt_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _api_message(exc: ApiException) -> str:
    body = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body)
    return (body or exc.reason or "no message").strip()[:500]
