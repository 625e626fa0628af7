"""``GET /internal/energy/aggregations/?community_id&month&resolution``: a
community month's produced, consumed, fed-in, withdrawn, self-consumed and
shared energy per day or hour (Italian local time), as ``/api/energy/aggregations/``
gives a manager, for the reporting service's monthly report.

Internal: never routed by the gateway (its prefix is not /api/), and only a
client token with ``energy:read``; a partner bound to another community gets 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from cerc_shared.auth import ClientPrincipal, Scope, require_client_scope
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, ok
from cerc_shared.ids import QueryId
from fastapi import APIRouter, Query

from energy_service import service
from energy_service.aggregation import aggregate
from energy_service.api.aggregations import AggregateOut, _out
from energy_service.api.deps import Store
from energy_service.completeness import month_bounds
from energy_service.models import registry
from energy_service.quantities import QUARTER_HOUR_S, quarters_of, settle
from energy_service.timeseries import SeriesQuery

router = APIRouter(prefix="/internal/energy", tags=["internal"])


@router.get("/aggregations/")
async def community_month_aggregations(
    session: DbSession,
    store: Store,
    client: Annotated[ClientPrincipal, require_client_scope(Scope.ENERGY_READ)],
    community_id: QueryId,
    month: Annotated[str, Query(description="YYYY-MM", examples=["2025-03"])],
    resolution: Literal["hour", "day"] = "day",
) -> Envelope[list[AggregateOut]]:
    client.check_community(community_id)
    first_day = service.month_of(month)
    start, end = month_bounds(first_day)
    following = (first_day + timedelta(days=32)).replace(day=1)
    plants = await registry.reader(session).plant_stays(
        community_id, between=(first_day, following)
    )
    settled = []
    if plants:
        sums = await store.energy_sums(
            SeriesQuery(start=start, end=end, plant_ids=sorted({p.plant_id for p in plants})),
            timedelta(seconds=QUARTER_HOUR_S),
        )
        settled = settle(quarters_of(sums), 3600)
    return ok(
        [_out(b) for b in aggregate(plants, settled, start, end, resolution, with_shared=True)]
    )
