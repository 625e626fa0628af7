"""Zonal prices: the market operator's files imported by a platform admin, read by anyone
signed in, used by settlement runs.

An import is validated whole before anything is written (``cacer.market_prices`` lists every
problem with its file, row and field). Both granularities are stored as published
(``market_prices``); the rules' hourly Pz (``zonal_prices``) is the published hourly price, or,
on a day with a quarter-hour file (from October 2025), the mean of the hour's four quarter
prices (cacer.market_prices says why). A derived price is never replaced by a published hourly
one: the quarter prices are what the market cleared. The same file again changes nothing; a
file with different values for hours already stored supersedes them, and the old values stay
in ``price_revisions`` with the import that replaced them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cacer.market_prices import (
    DayPrices,
    PriceFileError,
    hourly_zonal_prices,
    parse_price_xml,
    parse_price_zip,
)
from cerc_shared.auth import Principal
from cerc_shared.clock import ITALY
from cerc_shared.envelope import ApiError, ErrorItem
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from economic_service import repository
from economic_service.models import AuditRecord, PriceImport

HOURLY_FILE = "hourly file"
QUARTER_HOUR_MEAN = "quarter-hour mean"
ZIP_MAGIC = b"PK\x03\x04"
#: The market days a price may be stored for (the zonal market began in 2004).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
#: Problems shown to the uploader; the library already summarises beyond 20 of one kind.
MAX_ERRORS = 200


class PricesMissing(LookupError):
    """A run needs a zonal price for every hour of its month in each zone of its plants."""

    def __init__(self, gaps: dict[str, list[datetime]]) -> None:
        self.gaps = gaps
        super().__init__("; ".join(f"{zone}: {describe_gaps(h)}" for zone, h in gaps.items()))

    def errors(self) -> list[dict[str, Any]]:
        return [
            {
                "code": "prices_missing",
                "field": "prices",
                "zone": zone,
                "missing_hours": len(hours),
                "first_missing": hours[0].astimezone(ITALY).isoformat(),
                "message": f"no zonal price for {zone} at {describe_gaps(hours)}; "
                "import the market operator's files for these days "
                "(POST /api/economic/prices/imports/)",
            }
            for zone, hours in self.gaps.items()
        ]


@dataclass(frozen=True)
class ImportResult:
    record: PriceImport
    unchanged: bool


def _file_errors(problems: Sequence[str]) -> ApiError:
    error = ApiError(
        422,
        "invalid_price_file",
        problems[0] if problems else "not a price file",
        field="file",
        expected="the market operator's MGP Prezzi or Prezzi15 XML, or a ZIP of them",
    )
    error.errors = [
        ErrorItem(
            code="invalid_price_file",
            message=problem,
            field="file",
            expected="MGP Prezzi/Prezzi15 rows, decimal commas (112,345678)",
        )
        for problem in problems[:MAX_ERRORS]
    ]
    return error


def parse_file(name: str, data: bytes) -> list[DayPrices]:
    """Every day of the file, or PriceFileError naming each problem."""
    if data.startswith(ZIP_MAGIC):
        days: list[DayPrices] = parse_price_zip(data)
        return days
    return [parse_price_xml(data, name)]


def _at(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


async def import_prices(
    session: AsyncSession, principal: Principal, name: str, data: bytes
) -> ImportResult:
    digest = hashlib.sha256(data).hexdigest()
    existing = await repository.price_import_by_digest(session, digest)
    if existing is not None:
        return ImportResult(existing, unchanged=True)
    if not data:
        raise _file_errors(["the file is empty"])
    try:
        days = await run_in_threadpool(parse_file, name, data)
    except PriceFileError as exc:
        raise _file_errors(exc.problems) from None
    except (ValueError, OverflowError) as exc:  # a date no calendar here can hold
        raise _file_errors([f"{name}: {exc}"]) from None
    outside = sorted({d.day for d in days if not FIRST_DAY <= d.day <= LAST_DAY})
    if outside:
        raise _file_errors(
            [f"{name}: Data {d:%Y%m%d} is outside {FIRST_DAY:%Y}..{LAST_DAY:%Y}" for d in outside]
        )
    quarter_days = {d.day for d in days if d.interval_minutes == 15}
    record = PriceImport(
        sha256=digest,
        filename=name[:255],
        imported_by=principal.user_id,
        first_day=min(d.day for d in days),
        last_day=max(d.day for d in days),
        days=len({d.day for d in days}),
        market_prices=0,
        hourly_added=0,
        hourly_superseded=0,
    )
    try:
        # The same file sent twice at once: the second waits on the unique digest, then
        # finds the first one's import once it has committed.
        async with session.begin_nested():
            session.add(record)
            await session.flush()
    except IntegrityError:
        existing = await repository.price_import_by_digest(session, digest)
        if existing is None:
            raise
        return ImportResult(existing, unchanged=True)
    market = [
        (row.zone.value, _at(row.start_utc), row.minutes, row.eur_mwh)
        for d in days
        for row in d.rows()
    ]
    record.market_prices = len(market)
    await repository.upsert_market_prices(session, record.id, market)
    hourly = [
        (
            row.zone.value,
            _at(row.start_utc),
            row.eur_mwh,
            QUARTER_HOUR_MEAN if _at(row.start_utc).astimezone(ITALY).date() in quarter_days
            else HOURLY_FILE,
        )
        for row in hourly_zonal_prices(days)
    ]  # fmt: skip
    added, superseded = await repository.upsert_zonal_prices(
        session, record.id, hourly, keep_source=QUARTER_HOUR_MEAN, over_source=HOURLY_FILE
    )
    record.hourly_added = added
    record.hourly_superseded = superseded
    session.add(
        AuditRecord(
            community_id=None,
            actor_user_id=principal.user_id,
            action="prices.imported",
            details={
                "import_id": record.id,
                "filename": record.filename,
                "sha256": digest,
                "days": record.days,
                "hourly_added": added,
                "hourly_superseded": superseded,
            },
        )
    )
    await session.flush()
    return ImportResult(record, unchanged=False)


def local_day_start(day: date) -> datetime:
    return datetime.combine(day, time(), ITALY).astimezone(UTC)


def market_hours(start: date, end: date) -> list[datetime]:
    """Every market hour of the local days [start, end), as UTC instants (23/25 on clock days)."""
    first, last = local_day_start(start), local_day_start(end)
    return [first + timedelta(hours=h) for h in range(int((last - first).total_seconds()) // 3600)]


def missing_hours(
    zones: Iterable[str], hours: Sequence[datetime], have: Iterable[tuple[str, datetime]]
) -> dict[str, list[datetime]]:
    """Per zone, the hours without a price (empty when every zone has every hour)."""
    present = set(have)
    out: dict[str, list[datetime]] = {}
    for zone in sorted(set(zones)):
        gaps = [h for h in hours if (zone, h) not in present]
        if gaps:
            out[zone] = gaps
    return out


def describe_gaps(gaps: Sequence[datetime], shown: int = 6) -> str:
    """'2024-06-03T14:00+02:00 .. 2024-06-03T15:00+02:00, ... (N hours)': local ranges."""
    ranges: list[tuple[datetime, datetime]] = []
    for hour in gaps:
        if ranges and hour - ranges[-1][1] == timedelta(hours=1):
            ranges[-1] = (ranges[-1][0], hour)
        else:
            ranges.append((hour, hour))

    def local(at: datetime) -> str:
        return at.astimezone(ITALY).isoformat(timespec="minutes")

    parts = [local(a) if a == b else f"{local(a)}..{local(b)}" for a, b in ranges[:shown]]
    more = f", and {len(ranges) - shown} more ranges" if len(ranges) > shown else ""
    return f"{', '.join(parts)}{more} ({len(gaps)} hours)"
