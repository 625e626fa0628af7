"""``/internal/energy/aggregations/``: a community month per day or hour, as the
manager's aggregations give it, for a client token with energy:read only."""

from __future__ import annotations

import httpx
from energy_service.timeseries import InfluxTimeSeries

from .conftest import ReadModels, auth
from .test_aggregations import COMMUNITY, MANAGER, OTHER_COMMUNITY, community
from .test_internal_pod_hours import client_token

PATH = "/internal/energy/aggregations/"


async def test_a_community_month_by_day_and_hour_for_a_scoped_client_only(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    await community(read_models, store)
    params = {"community_id": COMMUNITY, "month": "2025-03"}
    days = await client.get(PATH, params=params, headers=client_token("energy:read"))
    assert days.status_code == 200, days.text
    data = days.json()["data"]
    assert len(data) == 31
    by_start = {d["start"][:10]: d for d in data}
    day = by_start["2025-03-30"]
    # The same figures as the manager's own aggregation of that day.
    manual = await client.get(
        "/api/energy/aggregations/",
        params={
            "by": "community", "community_id": COMMUNITY, "resolution": "day",
            "start": "2025-03-30T00:00:00+01:00", "end": "2025-03-31T00:00:00+02:00",
        },
        headers=auth(MANAGER),
    )  # fmt: skip
    [expected] = manual.json()["data"]
    assert day == expected
    assert (day["produced_kwh"], day["shared_kwh"]) == (4.0, 5.0)
    hours = await client.get(
        PATH, params={**params, "resolution": "hour"}, headers=client_token("energy:read")
    )
    assert len(hours.json()["data"]) == 31 * 24 - 1  # the 23-hour day

    assert (await client.get(PATH, params=params, headers=auth(MANAGER))).status_code == 403
    wrong = await client.get(PATH, params=params, headers=client_token("registry:read"))
    assert wrong.status_code == 403
    partner = await client.get(
        PATH, params=params, headers=client_token("energy:read", OTHER_COMMUNITY)
    )
    assert partner.status_code == 404
    bad = await client.get(
        PATH, params={**params, "month": "2025-13"}, headers=client_token("energy:read")
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "month"
