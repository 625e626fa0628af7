"""Measurements: who may see or add them, and how they are aggregated.

Hours are market hours in Italian local time (Europe/Rome): a day has 23 or 25
of them at the daylight-saving changes. Readings are stored in UTC; hour and
quarter-hour intervals are the same instants in UTC and in Rome (the offset is
a whole number of hours), so they are summed by the store, and days and months
are rolled up here on the Rome calendar.

Sources (cer-rules §6): IoT readings are estimates; official figures (the
distributor's/GSE's) supersede them for the same plant (POD) and hour. When
readings are aggregated without a ``source`` filter, each plant's settlement
interval (the hour; the quarter-hour at 15min) takes its energy from the most
authoritative source that has data in it: official, then manual, then iot.
Every figure says which source it came from. With a ``source`` filter only
that source is read.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import cast

from cerc_shared.auth import Principal
from cerc_shared.clock import ITALY, italian_today
from cerc_shared.envelope import ApiError, NotFound
from cerc_shared.events.iot import MeasurementsAccepted, Reading
from cerc_shared.logging import get_correlation_id
from cerc_shared.outbox import record
from cerc_shared.readmodels import AccessPeriod, PlantFacts, PlantStay
from sqlalchemy.ext.asyncio import AsyncSession

from energy_service.completeness import PodCompleteness, completeness, month_bounds
from energy_service.events import PRODUCER
from energy_service.imports.repository import ImportRepository
from energy_service.models import outbox, registry
from energy_service.quantities import QUARTER_HOUR_S, IntervalQuantities, quarters_of, settle
from energy_service.repository import ReadingAuditRepository, SettledMonthRepository
from energy_service.schemas import (
    BucketSource,
    EnergyBucketOut,
    ExchangeKind,
    RawReadingOut,
    ReadingsAccepted,
    ReadingsIn,
    Resolution,
)
from energy_service.scope_cache import ScopeCache
from energy_service.timeseries import SeriesQuery, Span, TimeSeriesStore

DEFAULT_SPAN = {
    "raw": timedelta(days=1),
    "15min": timedelta(days=1),
    "hour": timedelta(days=1),
    "day": timedelta(days=31),
    "month": timedelta(days=366),
}
MAX_SPAN = {
    "raw": timedelta(days=366),
    "15min": timedelta(days=366),
    "hour": timedelta(days=366),
    "day": timedelta(days=3660),
    "month": timedelta(days=3660),
}


# ------------------------------------------------------------- authorisation


async def readable_plant(session: AsyncSession, principal: Principal, plant_id: int) -> PlantFacts:
    """The plant if the principal may see it; 404 otherwise (existence is not revealed).

    A member sees the plants they own, a CER administrator those of their
    community, a platform administrator every plant."""
    reader = registry.reader(session)
    plant = await reader.plant(plant_id)
    if plant is None or await reader.access(principal, plant, italian_today()) is None:
        raise NotFound("plant")
    return plant


@dataclass(frozen=True)
class ReadingScope:
    """The readings a principal may see: per plant, the spans of instants
    (``start < timestamp <= end``) in which they held a role for it. None:
    every plant and every instant (a platform administrator)."""

    spans: dict[int, list[Span]] | None

    @property
    def plant_ids(self) -> list[int] | None:
        return None if self.spans is None else sorted(self.spans)


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=ITALY)


async def reading_scope(
    session: AsyncSession,
    principal: Principal,
    plant_id: int | None = None,
    cache: ScopeCache[ReadingScope] | None = None,
) -> ReadingScope:
    """Which readings the principal may see, of one plant (404 if none) or of all.

    Access follows the periods (issue 12, item 1): an owner sees a plant's
    readings in the stays they owned it, a community's administrator in its
    stays in that community while they were its ADMIN; so whoever registers a
    POD again never sees the previous tenant's history, and the previous
    tenant never sees theirs."""
    today = italian_today()
    if cache is None:
        return await _reading_scope(session, principal, plant_id, today)
    return await cache.through(
        scope_key(principal, plant_id, today),
        lambda: _reading_scope(session, principal, plant_id, today),
    )


def scope_key(principal: Principal, plant_id: int | None, today: date) -> tuple[object, ...]:
    """A kept reading scope's key: the caller's identity, the plant and the Italian day."""
    return (principal.user_id, principal.user_type, plant_id, today)


async def _reading_scope(
    session: AsyncSession, principal: Principal, plant_id: int | None, today: date
) -> ReadingScope:
    reader = registry.reader(session)
    periods = await reader.access_periods(
        principal, today, None if plant_id is None else [plant_id]
    )
    # A plant with a period in the registry is known: only a platform administrator's
    # request (no periods) asks the registry whether the plant exists.
    if plant_id is not None and (
        plant_id not in periods if periods is not None else await reader.plant(plant_id) is None
    ):
        raise NotFound("plant")
    if periods is None:
        return ReadingScope(None if plant_id is None else {plant_id: [(None, None)]})
    return ReadingScope(
        {
            plant: [(_midnight(p.valid_from), _midnight(p.valid_to)) for p in spans]
            for plant, spans in periods.items()
        }
    )


@dataclass(frozen=True)
class PlantInScope:
    """A plant as the aggregations see it: it counts only on the days of its spans."""

    plant_id: int
    pod: str
    primary_substation: str | None
    days: list[AccessPeriod] | None

    def active_on(self, day: date) -> bool:
        return self.days is None or any(p.covers(day) for p in self.days)


async def plant_in_scope(
    session: AsyncSession, principal: Principal, plant_id: int
) -> PlantInScope:
    """One plant for ``by=plant`` aggregations, counted on the principal's days only."""
    reader = registry.reader(session)
    plant = await reader.plant(plant_id)
    periods = await reader.access_periods(principal, italian_today(), [plant_id])
    if plant is None or (periods is not None and plant_id not in periods):
        raise NotFound("plant")
    return PlantInScope(
        plant_id,
        plant.pod,
        plant.primary_substation,
        None if periods is None else periods[plant_id],
    )


async def require_community_manager(
    session: AsyncSession, principal: Principal, community_id: int
) -> None:
    """Pass if the principal manages the community (its ADMIN today) or the
    platform; 404 otherwise, so a community's existence is not revealed."""
    if principal.is_platform_admin:
        return
    if not await registry.reader(session).is_community_admin(
        principal.user_id, community_id, italian_today()
    ):
        raise NotFound("community")


async def require_community_member(
    session: AsyncSession, principal: Principal, community_id: int, on: date
) -> None:
    """Pass if the principal is in the community on ``on`` in any role (or
    administers the platform); 404 otherwise, as for a manager."""
    if principal.is_platform_admin:
        return
    memberships = await registry.reader(session).memberships_of_user(principal.user_id, on=on)
    if not any(m.community_id == community_id for m in memberships):
        raise NotFound("community")


async def may_post_readings(session: AsyncSession, principal: Principal, plant: PlantFacts) -> bool:
    """Manual and official readings outrank the meter in settlement, so only the
    community's (today) or the platform's administrators add them (issue 12, item 5)."""
    access = await registry.reader(session).access(principal, plant, italian_today())
    return access == "manage"


# ---------------------------------------------------------------------- reads


@dataclass(frozen=True)
class MeasurementFilter:
    start: datetime | None
    end: datetime | None
    device_id: str | None
    source: str | None
    resolution: Resolution


# InfluxDB stores nanoseconds since 1970 in an int64: instants outside these
# years cannot be asked for (and `end - span` near year 1 overflows Python's
# datetime), so they are a 422, never a 500.
EARLIEST = datetime(1678, 1, 1, tzinfo=UTC)
LATEST = datetime(2262, 1, 1, tzinfo=UTC)


def check_storable(**instants: datetime | None) -> None:
    for name, instant in instants.items():
        if instant is not None and not EARLIEST <= instant < LATEST:
            raise ApiError(
                422, "validation_error", f"{name} is outside the storable time range",
                field=name, expected=f"{EARLIEST.isoformat()} <= {name} < {LATEST.isoformat()}",
            )  # fmt: skip


def resolve_range(
    start: datetime | None, end: datetime | None, resolution: Resolution
) -> tuple[datetime, datetime]:
    check_storable(start=start, end=end)
    end = end or datetime.now(UTC)
    start = start or end - DEFAULT_SPAN[resolution]
    if start >= end:
        raise ApiError(422, "validation_error", "end must be after start", field="end")
    if end - start > MAX_SPAN[resolution]:
        days = MAX_SPAN[resolution].days
        raise ApiError(
            422,
            "range_too_long",
            f"at {resolution} resolution a query covers at most {days} days",
            field="end",
            expected=f"end - start <= {days} days",
        )
    return start, end


async def read_measurements(
    store: TimeSeriesStore,
    scope: ReadingScope,
    filters: MeasurementFilter,
    *,
    page: int,
    per_page: int,
) -> tuple[list[RawReadingOut] | list[EnergyBucketOut], int]:
    start, end = resolve_range(filters.start, filters.end, filters.resolution)
    query = SeriesQuery(
        start=start,
        end=end,
        plant_ids=scope.plant_ids,
        device_id=filters.device_id,
        source=filters.source,
        spans=scope.spans,
    )
    offset = (page - 1) * per_page
    if filters.resolution == "raw":
        readings, total = await store.raw_page(query, offset=offset, limit=per_page)
        raw = [
            RawReadingOut.model_validate(
                {
                    "timestamp": r.timestamp,
                    "plant_id": r.plant_id,
                    "device_id": r.device_id,
                    "source": r.source,
                    **r.values,
                }
            )
            for r in readings
        ]
        return raw, total
    # Quarter hours always: the exchange is derived per quarter hour.
    sums = await store.energy_sums(query, timedelta(seconds=QUARTER_HOUR_S))
    settlement_s = QUARTER_HOUR_S if filters.resolution == "15min" else 3600
    buckets = aggregate(settle(quarters_of(sums), settlement_s), filters.resolution)
    return buckets[offset : offset + per_page], len(buckets)


def _bucket_bounds(interval_start: datetime, resolution: Resolution) -> tuple[datetime, datetime]:
    """The local (Europe/Rome) bucket that an interval starting at ``interval_start`` is in."""
    local = interval_start.astimezone(ITALY)
    if resolution == "15min":
        return local, (interval_start + timedelta(minutes=15)).astimezone(ITALY)
    if resolution == "hour":
        return local, (interval_start + timedelta(hours=1)).astimezone(ITALY)
    if resolution == "day":
        day = local.date()
        following = day + timedelta(days=1)
        return (
            datetime(day.year, day.month, day.day, tzinfo=ITALY),
            datetime(following.year, following.month, following.day, tzinfo=ITALY),
        )
    year, month = local.year, local.month
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    return datetime(year, month, 1, tzinfo=ITALY), datetime(next_year, next_month, 1, tzinfo=ITALY)


def aggregate(
    settled: Sequence[IntervalQuantities], resolution: Resolution
) -> list[EnergyBucketOut]:
    """Local-time buckets from settled intervals (one source per plant and interval)."""
    totals: dict[tuple[int, datetime], tuple[datetime, list[float], Counter[str], set[str]]] = {}
    for item in settled:
        start, end = _bucket_bounds(item.start, resolution)
        _, energy, sources, exchanges = totals.setdefault(
            (item.plant_id, start.astimezone(UTC)), (end, [0.0, 0.0, 0.0, 0.0], Counter(), set())
        )
        energy[0] += item.produced_kwh
        energy[1] += item.consumed_kwh
        energy[2] += item.fed_in_kwh
        energy[3] += item.withdrawn_kwh
        sources[item.source] += 1
        exchanges.add(item.exchange)
    buckets = []
    for (plant_id, start_utc), (end, energy, sources, exchanges) in sorted(
        totals.items(), key=_order
    ):
        only = cast(BucketSource, next(iter(sources))) if len(sources) == 1 else "mixed"
        exchanges.discard("none")
        exchange = cast(
            ExchangeKind,
            exchanges.pop() if len(exchanges) == 1 else ("mixed" if exchanges else "none"),
        )
        buckets.append(
            EnergyBucketOut(
                plant_id=plant_id,
                start=start_utc.astimezone(ITALY),
                end=end,
                energy_produced_kwh=round(energy[0], 6),
                energy_consumed_kwh=round(energy[1], 6),
                energy_fed_in_kwh=round(energy[2], 6),
                energy_withdrawn_kwh=round(energy[3], 6),
                exchange=exchange,
                source=only,
                intervals_by_source=dict(sorted(sources.items())),
            )
        )
    return buckets


def _order(
    item: tuple[tuple[int, datetime], tuple[datetime, list[float], Counter[str], set[str]]],
) -> tuple[datetime, int]:
    (plant_id, start), _ = item
    return start, plant_id


# ---------------------------------------------------------------------- writes


async def accept_readings(
    session: AsyncSession,
    store: TimeSeriesStore,
    principal: Principal,
    plant_id: int,
    body: ReadingsIn,
) -> ReadingsAccepted:
    """Accept manual or official readings for a plant.

    They take the same path as device readings: a ``MeasurementsAccepted``
    event goes into the outbox in this transaction, the relay publishes it to
    measurement.v1 and the ingestion writes it to the time-series store. One
    writer, one point identity, and an InfluxDB outage delays the readings
    without losing them. The answer is 202: readable once ingested, usually
    within a fraction of a second."""
    plant = await readable_plant(session, principal, plant_id)
    if not await may_post_readings(session, principal, plant):
        raise ApiError(
            403,
            "forbidden",
            f"{body.source} readings are added by the community's or the platform's administrators",
            field="source",
        )
    # Every device id is an InfluxDB tag: free text would let a caller mint
    # series without end (issue 12, item 6). The source's own name, or a
    # device that already reports for this plant.
    named = {item.device_id for item in body.readings} - {None, body.source}
    known = await store.device_ids(plant_id) if named else set()
    seen: dict[tuple[str, datetime], int] = {}
    readings = []
    for index, item in enumerate(body.readings):
        device_id = item.device_id or body.source
        if device_id != body.source and device_id not in known:
            raise ApiError(
                422,
                "unknown_device",
                "device_id is the source's name or a device that reports for this plant",
                field=f"readings.{index}.device_id",
                expected=f"{body.source!r} or one of the plant's devices",
            )
        at = item.timestamp.astimezone(UTC)
        if (device_id, at) in seen:
            raise ApiError(
                422,
                "duplicate_reading",
                f"readings {seen[(device_id, at)]} and {index} are for the same device and time",
                field=f"readings.{index}.timestamp",
            )
        seen[(device_id, at)] = index
        readings.append(
            Reading(
                device_id=device_id,
                timestamp=at,
                **item.model_dump(exclude={"device_id", "timestamp"}),
            )
        )
    await _refuse_settled_months(session, plant_id, readings)
    event = MeasurementsAccepted(plant_id=plant_id, source=body.source, readings=readings)
    envelope = await record(session, outbox, event, producer=PRODUCER)
    await _audit(session, store, principal, envelope.id, event)
    return ReadingsAccepted(
        event_id=envelope.id, plant_id=plant_id, source=body.source, readings=len(readings)
    )


async def _refuse_settled_months(
    session: AsyncSession, plant_id: int, readings: list[Reading]
) -> None:
    """A reading inside a month the plant's community has settled (FINAL) is
    refused: it would change what was paid (issue 12, item 5)."""
    reader = registry.reader(session)
    where: dict[int, tuple[int, date]] = {}
    for index, reading in enumerate(readings):
        # The interval ends at the timestamp: its day is the instant just before.
        day = (reading.timestamp - timedelta(microseconds=1)).astimezone(ITALY).date()
        stay = await reader.period_of_plant(plant_id, day)
        if stay is not None:
            where[index] = (stay.community_id, day.replace(day=1))
    settled = await SettledMonthRepository(session).settled(set(where.values()))
    for index, pair in where.items():
        if pair in settled:
            raise ApiError(
                409,
                "period_settled",
                f"{pair[1]:%Y-%m} is settled for the plant's community",
                field=f"readings.{index}.timestamp",
                expected="a month not yet settled",
            )


async def _audit(
    session: AsyncSession,
    store: TimeSeriesStore,
    principal: Principal,
    event_id: uuid.UUID,
    event: MeasurementsAccepted,
) -> None:
    """Who posted what, when and under which request id (the gateway's, adopted
    as the correlation id), and the readings of every source already stored at
    those instants: what this write replaces or outranks (issue 12, item 5)."""
    instants = {r.timestamp for r in event.readings}
    stored, _ = await store.raw_page(
        SeriesQuery(
            start=min(instants) - timedelta(microseconds=1),
            end=max(instants),
            plant_ids=[event.plant_id],
        ),
        offset=0,
        limit=10_000,
    )
    replaced = [
        {"timestamp": r.timestamp.isoformat(), "device_id": r.device_id, "source": r.source}
        | {name: value for name, value in r.values.items() if value is not None}
        for r in stored
        if r.timestamp in instants
    ]
    await ReadingAuditRepository(session).add(
        event_id=event_id,
        plant_id=event.plant_id,
        source=event.source,
        written_by=principal.user_id,
        correlation_id=get_correlation_id(),
        readings=[r.model_dump(mode="json", exclude_none=True) for r in event.readings],
        replaced=replaced,
    )


# ------------------------------------------------------------ a community's month


def month_of(text: str) -> date:
    """The first day of ``YYYY-MM``; 422 naming ``month`` otherwise."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ApiError(422, "validation_error", "not a month", field="month", expected="YYYY-MM")
    return date(int(match.group(1)), int(match.group(2)), 1)


@dataclass(frozen=True)
class CommunityMonth:
    """A community's month as settlement sees it: the plants' stays, each quarter
    hour's quantities from the winning source, and each POD's completeness."""

    plants: list[PlantStay]
    settled: list[IntervalQuantities]
    reports: list[PodCompleteness]


async def community_month(
    session: AsyncSession, store: TimeSeriesStore, community_id: int, first: date
) -> CommunityMonth:
    """One read for the completeness report and the economic service's hours alike,
    so both judge "official data complete" the same way (estimated days included)."""
    start, end = month_bounds(first)
    following = (first + timedelta(days=32)).replace(day=1)
    plants = await registry.reader(session).plant_stays(community_id, between=(first, following))
    settled: list[IntervalQuantities] = []
    estimated: dict[int, set[date]] = {}
    if plants:
        ids = sorted({p.plant_id for p in plants})
        sums = await store.energy_sums(
            SeriesQuery(start=start, end=end, plant_ids=ids), timedelta(seconds=QUARTER_HOUR_S)
        )
        settled = settle(quarters_of(sums))
        for (plant_id, _, curve_month), curve in (
            await ImportRepository(session).current_curves(ids)
        ).items():
            if curve_month == first:
                estimated.setdefault(plant_id, set()).update(curve.estimated_days or [])
    return CommunityMonth(plants, settled, completeness(plants, settled, first, estimated))
