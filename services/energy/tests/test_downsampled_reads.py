"""Item 8, gaps: once raw readings have expired, reads fall back on the long-kept quarter hours,
and a distributor file older than the raw retention is still loaded (into the quarter hours)
and read back. A database of its own with a raw retention of eight days, on a real InfluxDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from cerc_shared.auth import Principal
from energy_service.imports.service import import_file
from energy_service.retention import SETTLEMENT_POLICY, Retention, RetentionPlan
from energy_service.timeseries import (
    QUARTER_MEASUREMENT,
    EnergyPoint,
    InfluxTimeSeries,
    RawReading,
    SeriesQuery,
    TimeSeriesRejected,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import INFLUX_PASSWORD, INFLUX_URL, INFLUX_USER, ReadModels, new_plant_id
from .meter_files import csv_month

DATABASE = "cerc_test_energy_fallback"
TOKEN = f"{INFLUX_USER}:{INFLUX_PASSWORD}"
BUCKET = f"{DATABASE}/autogen"
QUARTER, HOUR = timedelta(minutes=15), timedelta(hours=1)
MANAGER, COMMUNITY = 721, 97


@pytest.fixture
async def short_lived() -> AsyncIterator[InfluxTimeSeries]:
    """A store whose raw readings live eight days, with the ten-year quarter hours beside them."""
    from .conftest import recreate_influx_database

    recreate_influx_database(DATABASE)
    await Retention(INFLUX_URL, TOKEN, BUCKET).apply(RetentionPlan(raw="8d"))
    store = InfluxTimeSeries(
        INFLUX_URL, TOKEN, "-", BUCKET,
        settlement_policy=SETTLEMENT_POLICY, raw_retention=timedelta(days=8),
    )  # fmt: skip
    try:
        yield store
    finally:
        await store.close()
        await Retention(INFLUX_URL, TOKEN, BUCKET)._influxql(f'DROP DATABASE "{DATABASE}"')


async def test_expired_hours_are_read_from_the_quarter_hours(
    short_lived: InfluxTimeSeries,
) -> None:
    store = short_lived
    plant = new_plant_id()
    old = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=20)
    # InfluxDB no longer takes a raw reading that old: it is gone for good.
    with pytest.raises(TimeSeriesRejected, match="retention"):
        await store.write([EnergyPoint(plant, "m", "iot", old + QUARTER, {"energy_fed_in_kwh": 1})])
    await store.write_quarters(
        [
            EnergyPoint(
                plant, "distributor", "official", old + QUARTER, {"energy_fed_in_kwh": 1.5}
            ),
            EnergyPoint(
                plant, "distributor", "official", old + 2 * QUARTER, {"energy_fed_in_kwh": 0.5}
            ),
            EnergyPoint(
                plant, "distributor", "official", old + 2 * QUARTER,
                {"energy_withdrawn_kwh": 0.25},
            ),
        ]
    )  # fmt: skip
    query = SeriesQuery(start=old, end=old + HOUR, plant_ids=[plant])
    hourly = await store.energy_sums(query, HOUR)
    assert [(s.start, s.source, s.energy_fed_in_kwh, s.energy_withdrawn_kwh) for s in hourly] == [
        (old, "official", 2.0, 0.25)
    ]
    quarters = await store.energy_sums(query, QUARTER)
    assert [(s.start, s.energy_fed_in_kwh) for s in quarters] == [(old, 1.5), (old + QUARTER, 0.5)]
    # The same database read without the fallback: nothing (the quarter hours are what answered).
    plain = InfluxTimeSeries(INFLUX_URL, TOKEN, "-", BUCKET)
    try:
        assert await plain.energy_sums(query, HOUR) == []
    finally:
        await plain.close()

    # While raw readings last they are the truth: a recent hour is read from them only.
    recent = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 3 * HOUR
    await store.write([EnergyPoint(plant, "m", "iot", recent + QUARTER, {"energy_fed_in_kwh": 1})])
    await store.write_quarters(
        [EnergyPoint(plant, "m", "iot", recent + QUARTER, {"energy_fed_in_kwh": 9.0})]
    )
    fresh = await store.energy_sums(SeriesQuery(recent, recent + HOUR, [plant]), HOUR)
    assert [(s.source, s.energy_fed_in_kwh) for s in fresh] == [("iot", 1.0)]


async def test_a_file_older_than_the_raw_retention_is_loaded_and_read(
    short_lived: InfluxTimeSeries,
    read_models: ReadModels,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    store = short_lived
    plant = new_plant_id()
    await read_models.plant(plant, owner=MANAGER, community=COMMUNITY)
    await read_models.member(MANAGER, COMMUNITY, role="ADMIN")
    manager = Principal(user_id=MANAGER, username="m", user_type="PRIVATE", token_id="t")
    async with sessionmaker() as session:
        result = await import_file(
            session, store, manager, community_id=COMMUNITY, name="feb.csv",
            data=csv_month(2025, 2, lambda end: Decimal("0.125")),
            pod=f"IT001E{plant % 10**8:08d}", direction="fed_in",
        )  # fmt: skip
        await session.rollback()
    assert result.record.values_written == 28 * 96
    day = datetime(2025, 2, 10, tzinfo=UTC) - HOUR  # 10 February, Italian midnight
    sums = await store.energy_sums(
        SeriesQuery(start=day, end=day + timedelta(days=1), plant_ids=[plant]), HOUR
    )
    assert [(s.start, s.source, s.energy_fed_in_kwh) for s in sums] == [
        (day + i * HOUR, "official", 4 * 0.125) for i in range(24)
    ]
    assert date(2025, 2, 10) == (day + HOUR).date()


async def test_expired_raw_readings_are_read_from_the_quarter_hours(
    short_lived: InfluxTimeSeries,
) -> None:
    store = short_lived
    plant, other = new_plant_id(), new_plant_id()
    old = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=20)
    await store.write_quarters(
        [
            EnergyPoint(plant, "d", "official", old + QUARTER, {"energy_fed_in_kwh": 1.5}),
            EnergyPoint(plant, "d", "official", old + 2 * QUARTER, {"energy_fed_in_kwh": 0.5}),
            EnergyPoint(plant, "d", "official", old + 2 * QUARTER, {"energy_withdrawn_kwh": 0.25}),
            EnergyPoint(other, "d", "official", old + QUARTER, {"energy_fed_in_kwh": 7.0}),
        ]
    )
    recent = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 3 * HOUR
    await store.write([EnergyPoint(plant, "m", "iot", recent + QUARTER, {"energy_fed_in_kwh": 1})])

    def seen(
        readings: list[RawReading],
    ) -> list[tuple[datetime, str, str, float | None, float | None]]:
        return [
            (r.timestamp, r.device_id, r.source, r.values["energy_fed_in_kwh"],
             r.values["energy_withdrawn_kwh"])
            for r in readings
        ]  # fmt: skip

    expired = SeriesQuery(start=old, end=old + HOUR, plant_ids=[plant])
    readings, total = await store.raw_page(expired, offset=0, limit=10)
    assert total == 2
    # One per quarter, stamped at its end, the fields of that quarter merged.
    assert seen(readings) == [
        (old + QUARTER, QUARTER_MEASUREMENT, "official", 1.5, None),
        (old + 2 * QUARTER, QUARTER_MEASUREMENT, "official", 0.5, 0.25),
    ]
    plain = InfluxTimeSeries(INFLUX_URL, TOKEN, "-", BUCKET)
    try:
        assert await plain.raw_page(expired, offset=0, limit=10) == ([], 0)
    finally:
        await plain.close()

    # A range across the horizon: the quarter hours, then the raw readings, paged as one list.
    across = SeriesQuery(start=old, end=recent + HOUR, plant_ids=[plant])
    first, total = await store.raw_page(across, offset=0, limit=2)
    second, _ = await store.raw_page(across, offset=2, limit=2)
    assert total == 3
    assert seen(first + second) == [
        (old + QUARTER, QUARTER_MEASUREMENT, "official", 1.5, None),
        (old + 2 * QUARTER, QUARTER_MEASUREMENT, "official", 0.5, 0.25),
        (recent + QUARTER, "m", "iot", 1.0, None),
    ]
    # The caller's spans hold for the quarter hours too: the other plant only from old + 30 min.
    spans = SeriesQuery(
        start=old, end=old + HOUR, spans={plant: [(old + QUARTER, None)], other: [(None, old)]}
    )
    readings, total = await store.raw_page(spans, offset=0, limit=10)
    assert (total, seen(readings)) == (
        1,
        [(old + 2 * QUARTER, QUARTER_MEASUREMENT, "official", 0.5, 0.25)],
    )
