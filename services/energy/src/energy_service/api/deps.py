from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import AwareDatetime

from energy_service.schemas import Resolution, SourceName
from energy_service.scope_cache import ScopeCache
from energy_service.service import MeasurementFilter, ReadingScope
from energy_service.timeseries import TimeSeriesStore


async def _store(request: Request) -> TimeSeriesStore:
    store: TimeSeriesStore = request.app.state.timeseries
    return store


async def _scopes(request: Request) -> ScopeCache[ReadingScope]:
    scopes: ScopeCache[ReadingScope] = request.app.state.reading_scopes
    return scopes


async def _filters(
    start: Annotated[
        AwareDatetime | None,
        Query(description="readings with start < timestamp; ISO-8601 with a timezone"),
    ] = None,
    end: Annotated[
        AwareDatetime | None,
        Query(description="readings with timestamp <= end (default now); with a timezone"),
    ] = None,
    resolution: Annotated[
        Resolution,
        Query(description="raw readings, or energy per 15min/hour/day/month in Europe/Rome"),
    ] = "raw",
    device_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    source: Annotated[
        SourceName | None,
        Query(description="only this source; without it official supersedes manual and iot"),
    ] = None,
) -> MeasurementFilter:
    return MeasurementFilter(
        start=start, end=end, device_id=device_id, source=source, resolution=resolution
    )


Store = Annotated[TimeSeriesStore, Depends(_store)]
Scopes = Annotated[ScopeCache[ReadingScope], Depends(_scopes)]
Filters = Annotated[MeasurementFilter, Depends(_filters)]
Page = Annotated[int, Query(ge=1, le=1_000_000)]
PerPage = Annotated[int, Query(ge=1, le=1000)]
