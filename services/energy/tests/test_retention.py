"""Retention on a real InfluxDB, in a database of its own: the raw policy's
and the settlement policy's durations, the continuous query, idempotence,
the quarter-hour downsampling, and a point beyond the raw retention refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from energy_service.retention import CONTINUOUS_QUERY, Retention, RetentionPlan
from energy_service.timeseries import EnergyPoint, InfluxTimeSeries, TimeSeriesRejected

from .conftest import INFLUX_PASSWORD, INFLUX_URL, INFLUX_USER, recreate_influx_database

DATABASE = "cerc_test_energy_retention"
TOKEN = f"{INFLUX_USER}:{INFLUX_PASSWORD}"


async def test_policies_continuous_query_and_downsampling() -> None:
    recreate_influx_database(DATABASE)
    retention = Retention(INFLUX_URL, TOKEN, f"{DATABASE}/autogen")
    plan = RetentionPlan(raw="396d", settlement="3660d")
    await retention.apply(plan)
    await retention.apply(plan)  # again: nothing new, nothing refused
    assert await retention.policies() == {"autogen": "9504h0m0s", "settlement": "87840h0m0s"}
    queries = await retention.continuous_queries()
    assert list(queries) == [CONTINUOUS_QUERY]
    assert "settlement" in queries[CONTINUOUS_QUERY]
    assert "energy_quarter" in queries[CONTINUOUS_QUERY]

    store = InfluxTimeSeries(INFLUX_URL, TOKEN, "-", f"{DATABASE}/autogen")
    try:
        quarter = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
        end = quarter + timedelta(minutes=15)
        await store.write(
            [
                EnergyPoint(7, "a", "iot", end, {"energy_fed_in_kwh": 0.5}),
                EnergyPoint(7, "b", "iot", end, {"energy_fed_in_kwh": 0.25}),
                EnergyPoint(7, "a", "iot", end + timedelta(minutes=5), {"energy_fed_in_kwh": 1.0}),
            ]
        )
        await retention.downsample(quarter, quarter + timedelta(hours=1))
        rows = await retention._influxql(
            f'SELECT * FROM "{DATABASE}"."settlement"."energy_quarter"'  # noqa: S608
        )
        values = rows[0]["series"][0]["values"]  # type: ignore[index]
        columns = rows[0]["series"][0]["columns"]  # type: ignore[index]
        got = [dict(zip(columns, v, strict=True)) for v in values]
        # Interval-ending readings: 0.5 + 0.25 stamped at 10:15 belong to
        # 10:00-10:15; the reading at 10:20 to 10:15-10:30.
        assert [(g["time"][11:], g["energy_fed_in"], g["plant_id"], g["source"]) for g in got] == [
            (f"{quarter:%H:%M}:00.000000001Z", 0.75, "7", "iot"),
            (f"{end:%H:%M}:00.000000001Z", 1.0, "7", "iot"),
        ]

        old = datetime.now(UTC) - timedelta(days=500)
        with pytest.raises(TimeSeriesRejected, match="retention"):
            await store.write([EnergyPoint(7, "a", "iot", old, {"energy_fed_in_kwh": 1.0})])
    finally:
        await store.close()


def test_a_retention_that_is_not_a_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="not an InfluxDB duration"):
        RetentionPlan(raw="13 months")
    with pytest.raises(ValueError, match="plain InfluxDB identifier"):
        Retention(INFLUX_URL, TOKEN, 'x";DROP DATABASE y/autogen')
