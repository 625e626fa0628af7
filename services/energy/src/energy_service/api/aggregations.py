"""``GET /api/energy/aggregations/``: produced, consumed, fed-in, withdrawn,
self-consumption and shared energy of a plant, a member, a community or a
primary substation, per 15min/hour/day/month/year in Italian local time,
with the coverage of each source; ``format=csv`` downloads the curve."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.clock import ITALY
from cerc_shared.db import DbSession
from cerc_shared.envelope import ApiError, Envelope, NotFound, ok
from cerc_shared.ids import MAX_BIGINT, OptionalQueryId
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel

from energy_service import service
from energy_service.aggregation import AggregateResolution, Bucket, Point, aggregate, bucket_bounds
from energy_service.api.deps import Store
from energy_service.hourly.reads import (
    CommunityPerimeter,
    CommunityReads,
    perimeter_key,
    perimeter_of,
)
from energy_service.hourly.service import precomputed_buckets
from energy_service.models import registry
from energy_service.quantities import QUARTER_HOUR_S, quarters_of, settle
from energy_service.service import check_storable
from energy_service.timeseries import SeriesQuery

router = APIRouter(prefix="/api/energy", tags=["aggregations"])

Perimeter = Literal["plant", "member", "community", "substation"]
MAX_SPAN = {
    "15min": timedelta(days=31),
    "hour": timedelta(days=92),
    "day": timedelta(days=3660),
    "month": timedelta(days=3660),
    "year": timedelta(days=3660),
}
DEFAULT_SPAN = {
    "15min": timedelta(days=1),
    "hour": timedelta(days=1),
    "day": timedelta(days=31),
    "month": timedelta(days=366),
    "year": timedelta(days=366 * 2),
}


class AggregateOut(BaseModel):
    """One bucket ``[start, end)`` in Europe/Rome. ``shared_kwh`` (community and
    substation only, hour and coarser): min(Σ fed-in, Σ withdrawn) per hour and
    primary substation, summed; ``shared_configuration_kwh`` the same over the
    whole community (reported, earns nothing by itself)."""

    start: datetime
    end: datetime
    produced_kwh: float
    consumed_kwh: float
    fed_in_kwh: float
    withdrawn_kwh: float
    self_consumption_kwh: float
    shared_kwh: float | None
    shared_configuration_kwh: float | None
    # official, manual, iot, mixed, or missing when no point had data.
    source: str
    exchange: Literal["measured", "derived", "mixed", "none"]
    # Point-intervals per source, and those with no data at all.
    coverage: dict[str, int]


def _out(bucket: Bucket) -> AggregateOut:
    sources = [s for s, n in bucket.coverage.items() if n and s != "missing"]
    exchange = bucket.exchange - {"none"}
    return AggregateOut(
        start=bucket.start.astimezone(ITALY),
        end=bucket.end.astimezone(ITALY),
        produced_kwh=round(bucket.produced_kwh, 6),
        consumed_kwh=round(bucket.consumed_kwh, 6),
        fed_in_kwh=round(bucket.fed_in_kwh, 6),
        withdrawn_kwh=round(bucket.withdrawn_kwh, 6),
        self_consumption_kwh=round(bucket.self_consumption_kwh, 6),
        shared_kwh=_kwh(bucket.shared_wh),
        shared_configuration_kwh=_kwh(bucket.shared_configuration_wh),
        source=sources[0] if len(sources) == 1 else ("mixed" if sources else "missing"),
        exchange=exchange.pop() if len(exchange) == 1 else ("mixed" if exchange else "none"),
        coverage=dict(bucket.coverage),
    )


def _kwh(wh: int | None) -> float | None:
    return None if wh is None else wh / 1000


def _range(
    start: datetime | None, end: datetime | None, resolution: AggregateResolution
) -> tuple[datetime, datetime]:
    """Whole buckets: start floored to its bucket, end raised to a bucket's end."""
    check_storable(start=start, end=end)
    end = (end or datetime.now(UTC)).astimezone(UTC)
    start = (start or end - DEFAULT_SPAN[resolution]).astimezone(UTC)
    if start >= end:
        raise ApiError(422, "validation_error", "end must be after start", field="end")
    if end - start > MAX_SPAN[resolution]:
        days = MAX_SPAN[resolution].days
        raise ApiError(
            422, "range_too_long", f"at {resolution} resolution at most {days} days",
            field="end", expected=f"end - start <= {days} days",
        )  # fmt: skip
    step = 900 if resolution == "15min" else 3600
    start = datetime.fromtimestamp(int(start.timestamp()) // step * step, UTC)
    start = bucket_bounds(start, resolution)[0]
    last = datetime.fromtimestamp((int(end.timestamp()) - 1) // step * step, UTC)
    return start, bucket_bounds(last, resolution)[1]


async def _perimeter(
    session: DbSession,
    principal: CurrentPrincipal,
    by: Perimeter,
    community_id: int | None,
    plant_id: int | None,
    member_id: int | None,
    primary_substation: str | None,
    start: datetime,
    end: datetime,
) -> Sequence[Point]:
    if by == "plant":
        if plant_id is None:
            raise ApiError(422, "validation_error", "by=plant needs plant_id", field="plant_id")
        return [await service.plant_in_scope(session, principal, plant_id)]
    if community_id is None:
        raise ApiError(422, "validation_error", f"by={by} needs community_id", field="community_id")
    # The Italian days the buckets cover, as a half-open span.
    days = (start.astimezone(ITALY).date(), (end - timedelta(seconds=1)).astimezone(ITALY).date())
    between = (days[0], days[1] + timedelta(days=1))
    reader = registry.reader(session)
    if by == "member":
        if member_id is None:
            raise ApiError(422, "validation_error", "by=member needs member_id", field="member_id")
        if member_id != principal.user_id:
            await service.require_community_manager(session, principal, community_id)
        return await reader.plant_stays(community_id, between=between, owner_user_id=member_id)
    await service.require_community_manager(session, principal, community_id)
    if by == "substation":
        if not primary_substation:
            raise ApiError(
                422, "validation_error", "by=substation needs primary_substation",
                field="primary_substation",
            )  # fmt: skip
        stays = await reader.plant_stays(
            community_id, between=between, primary_substation=primary_substation
        )
        if not stays:
            raise NotFound("primary substation")
        return stays
    return await reader.plant_stays(community_id, between=between)


@router.get("/aggregations/", response_model=Envelope[list[AggregateOut]])
async def aggregations(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    store: Store,
    by: Annotated[Perimeter, Query(description="plant, member, community or substation")],
    community_id: OptionalQueryId = None,
    plant_id: OptionalQueryId = None,
    member_id: Annotated[
        int | None, Query(ge=1, le=MAX_BIGINT, description="the member's user id")
    ] = None,
    primary_substation: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    start: Annotated[AwareDatetime | None, Query()] = None,
    end: Annotated[AwareDatetime | None, Query()] = None,
    resolution: AggregateResolution = "hour",
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Envelope[list[AggregateOut]] | Response:
    first, last = _range(start, end, resolution)
    with_shared = by in ("community", "substation")
    if with_shared and community_id is not None and resolution != "15min":
        # From the hourly sums, the body kept while they are unchanged (hourly.reads).
        reads = CommunityReads.of(request.app.state)
        substation = primary_substation if by == "substation" else None
        key = perimeter_key(principal, by, community_id, substation, first, last)

        async def compute() -> CommunityPerimeter:
            plants = await _perimeter(
                session, principal, by, community_id, None, None, primary_substation, first, last
            )
            return await perimeter_of(session, community_id, plants, first, last)

        perimeter = await reads.perimeters.through(key, compute)
        stamp = await reads.stamp(request.app.state.read_pool, community_id, perimeter, first, last)
        answer_key = (community_id, substation, first, last, resolution)
        if stamp is not None and format == "json":
            body = reads.answers.get(answer_key, stamp)
            if body is not None:
                return Response(body, media_type="application/json")
        precomputed = await precomputed_buckets(
            session, store, community_id, first, last, resolution,
            primary_substation=substation, stays=perimeter.stays,
        )  # fmt: skip
        if precomputed is not None:
            buckets = [_out(b) for b in precomputed]
            if format == "csv":
                return _answer(buckets, by, resolution, first, format)
            body = Envelope[list[AggregateOut]](data=buckets).model_dump_json().encode()
            if stamp is not None:
                reads.answers.put(answer_key, stamp, body)
            return Response(body, media_type="application/json")
        plants = perimeter.plants
    else:
        plants = await _perimeter(
            session, principal, by, community_id, plant_id, member_id, primary_substation,
            first, last,
        )  # fmt: skip
    settled = []
    if plants:
        sums = await store.energy_sums(
            SeriesQuery(start=first, end=last, plant_ids=sorted({p.plant_id for p in plants})),
            timedelta(seconds=QUARTER_HOUR_S),
        )
        settled = settle(quarters_of(sums), 900 if resolution == "15min" else 3600)
    buckets = [
        _out(b)
        for b in aggregate(plants, settled, first, last, resolution, with_shared=with_shared)
    ]
    return _answer(buckets, by, resolution, first, format)


def _answer(
    buckets: list[AggregateOut], by: str, resolution: str, first: datetime, format: str
) -> Envelope[list[AggregateOut]] | Response:
    if format == "csv":
        return _csv(buckets, f"{by}-{resolution}-{first.astimezone(ITALY):%Y%m%d}.csv")
    return ok(buckets)


CSV_COLUMNS = (
    "time", "end", "produced_kwh", "consumed_kwh", "fed_in_kwh", "withdrawn_kwh",
    "self_consumption_kwh", "shared_kwh", "source",
)  # fmt: skip


def _csv(buckets: list[AggregateOut], filename: str) -> Response:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for b in buckets:
        writer.writerow(
            [
                b.start.isoformat(), b.end.isoformat(), b.produced_kwh, b.consumed_kwh,
                b.fed_in_kwh, b.withdrawn_kwh, b.self_consumption_kwh,
                "" if b.shared_kwh is None else b.shared_kwh, b.source,
            ]
        )  # fmt: skip
    return Response(
        text.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
