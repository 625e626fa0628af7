"""``/api/economic/prices/``: the hourly zonal prices settlements use (anyone signed in), the
market operator's files imported by a platform admin, their history and corrections."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from cacer.parameters import MarketZone
from cerc_shared.auth import CurrentPrincipal, PlatformAdmin
from cerc_shared.clock import ITALY
from cerc_shared.db import DbSession
from cerc_shared.envelope import ApiError, Envelope, PageMeta, ok
from fastapi import APIRouter, File, Query, Response, UploadFile, status
from pydantic import BaseModel

from economic_service import repository
from economic_service.models import PriceImport
from economic_service.service import prices

router = APIRouter(prefix="/api/economic/prices", tags=["prices"])

# A year of daily files, quarter hours included, zipped, is a few megabytes.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
#: One answer covers at most this many days: a year of hours of seven zones is 61,000 rows.
MAX_DAYS = 400

Page = Annotated[int, Query(ge=1, le=1_000_000)]
PerPage = Annotated[int, Query(ge=1, le=5000)]


class PriceImportOut(BaseModel):
    id: int
    filename: str
    sha256: str
    imported_by: int
    imported_at: datetime
    first_day: date
    last_day: date
    days: int
    market_prices: int
    hourly_added: int
    hourly_superseded: int
    unchanged: bool = False


class ZonalPriceOut(BaseModel):
    zone: str
    start: datetime  # local, with its offset
    start_utc: datetime
    minutes: int
    eur_mwh: Decimal
    source: str
    import_id: int | None


class PriceRevisionOut(BaseModel):
    kind: str
    zone: str
    start_utc: datetime
    minutes: int
    old_eur_mwh: Decimal
    new_eur_mwh: Decimal
    old_import_id: int | None
    import_id: int


def import_out(record: PriceImport, *, unchanged: bool = False) -> PriceImportOut:
    return PriceImportOut(
        id=record.id,
        filename=record.filename,
        sha256=record.sha256,
        imported_by=record.imported_by,
        imported_at=record.imported_at,
        first_day=record.first_day,
        last_day=record.last_day,
        days=record.days,
        market_prices=record.market_prices,
        hourly_added=record.hourly_added,
        hourly_superseded=record.hourly_superseded,
        unchanged=unchanged,
    )


def _days(start: date, end: date) -> tuple[datetime, datetime]:
    """[from, to] as local days, both included, to UTC instants [start, end)."""
    for name, day in (("from", start), ("to", end)):
        if not prices.FIRST_DAY <= day <= prices.LAST_DAY:
            expected = f"{prices.FIRST_DAY} to {prices.LAST_DAY}"
            raise ApiError(422, "validation_error", f"{day} is outside the market's days",
                           field=name, expected=expected)  # fmt: skip
    if end < start:
        raise ApiError(422, "validation_error", "to is before from", field="to",
                       expected="a day on or after from")  # fmt: skip
    if (end - start).days + 1 > MAX_DAYS:
        raise ApiError(422, "validation_error", f"more than {MAX_DAYS} days", field="to",
                       expected=f"at most {MAX_DAYS} days after from")  # fmt: skip
    return prices.local_day_start(start), prices.local_day_start(end + timedelta(days=1))


@router.post("/imports/", status_code=status.HTTP_201_CREATED)
async def import_file(
    session: DbSession,
    principal: PlatformAdmin,
    response: Response,
    file: Annotated[
        UploadFile, File(description="the market operator's MGP Prezzi/Prezzi15 XML, or a ZIP")
    ],
) -> Envelope[PriceImportOut]:
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(413, "file_too_large", "the file is too large", field="file",
                       expected=f"at most {MAX_UPLOAD_BYTES} bytes")  # fmt: skip
    result = await prices.import_prices(session, principal, file.filename or "prezzi.xml", data)
    if result.unchanged:
        response.status_code = status.HTTP_200_OK
    return ok(import_out(result.record, unchanged=result.unchanged))


@router.get("/imports/")
async def import_history(
    session: DbSession, _: PlatformAdmin, page: Page = 1, per_page: PerPage = 50
) -> Envelope[list[PriceImportOut]]:
    items, total = await repository.price_imports(
        session, offset=(page - 1) * per_page, limit=per_page
    )
    return ok([import_out(i) for i in items], PageMeta(page=page, per_page=per_page, total=total))


@router.get("/")
async def list_prices(
    session: DbSession,
    _: CurrentPrincipal,
    from_: Annotated[date, Query(alias="from", description="first local day")],
    to: Annotated[date, Query(description="last local day, included")],
    zone: MarketZone | None = None,
    resolution: Annotated[
        Literal["hour", "15min"],
        Query(description="hour: the Pz settlements use; 15min: the quarter prices as published"),
    ] = "hour",
    page: Page = 1,
    per_page: PerPage = 500,
) -> Envelope[list[ZonalPriceOut]]:
    start, end = _days(from_, to)
    offset = (page - 1) * per_page
    zone_name = zone.value if zone is not None else None
    if resolution == "hour":
        hourly, total = await repository.zonal_prices_page(
            session, zone_name, start, end, offset=offset, limit=per_page
        )
        items = [
            ZonalPriceOut(
                zone=p.zone,
                start=p.hour_utc.astimezone(ITALY),
                start_utc=p.hour_utc,
                minutes=60,
                eur_mwh=p.eur_mwh,
                source=p.source,
                import_id=p.import_id,
            )
            for p in hourly
        ]
    else:
        quarters, total = await repository.market_prices_page(
            session, zone_name, start, end, offset=offset, limit=per_page
        )
        items = [
            ZonalPriceOut(
                zone=p.zone,
                start=p.start_utc.astimezone(ITALY),
                start_utc=p.start_utc,
                minutes=p.minutes,
                eur_mwh=p.eur_mwh,
                source="quarter-hour file",
                import_id=p.import_id,
            )
            for p in quarters
        ]
    return ok(items, PageMeta(page=page, per_page=per_page, total=total))


@router.get("/revisions/")
async def price_revisions(
    session: DbSession,
    _: CurrentPrincipal,
    zone: MarketZone,
    from_: Annotated[date, Query(alias="from", description="first local day")],
    to: Annotated[date, Query(description="last local day, included")],
) -> Envelope[list[PriceRevisionOut]]:
    """Prices replaced by later imports (corrections), oldest first."""
    start, end = _days(from_, to)
    rows = await repository.price_revisions(session, zone.value, start, end)
    return ok(
        [
            PriceRevisionOut(
                kind=r.kind,
                zone=r.zone,
                start_utc=r.start_utc,
                minutes=r.minutes,
                old_eur_mwh=r.old_eur_mwh,
                new_eur_mwh=r.new_eur_mwh,
                old_import_id=r.old_import_id,
                import_id=r.import_id,
            )
            for r in rows
        ]
    )
