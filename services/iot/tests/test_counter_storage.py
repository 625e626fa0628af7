"""Where the bridge keeps a device's counter state: devices.counters (migration 0003)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import asyncpg
from cerc_shared.testing import alembic, bootstrap_database, service_dsn
from iot_service.counters import RegisterState
from iot_service.repository import _counters_json, registers

from .conftest import SERVICE_DIR


def test_register_states_read_back_exactly_as_written() -> None:
    states = {
        "spec:energy_produced": RegisterState(datetime(2025, 9, 4, 10, 0, tzinfo=UTC), 1000.0125),
        "shelly:energy_consumed": RegisterState(
            datetime(2025, 9, 4, 10, 0, 0, 123456, tzinfo=UTC), 0.1 + 0.2
        ),
    }
    again = registers(_counters_json(states))
    assert again == states
    assert registers(None) == {}
    # A time written in another zone is the same instant.
    rome = timezone(timedelta(hours=2))
    stored = '{"tasmota:energy_consumed": ["2025-09-04T12:00:00+02:00", 5]}'
    assert registers(stored)["tasmota:energy_consumed"] == RegisterState(
        datetime(2025, 9, 4, 12, 0, tzinfo=rome), 5
    )


def _alembic(dsn: str, *args: str) -> None:
    alembic("iot", SERVICE_DIR, dsn, *args)


async def test_migration_0003_carries_counter_states_over_and_back() -> None:
    database = "cerc_test_iot_migration"
    bootstrap_database(database)
    dsn = service_dsn("iot", database)
    _alembic(dsn, "upgrade", "0002")
    plain = dsn.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(plain, server_settings={"search_path": "iot"})
    t1 = datetime(2025, 9, 4, 10, 15, 0, 250000, tzinfo=UTC)
    t2 = datetime(2025, 9, 4, 10, 30, tzinfo=UTC)
    try:
        await conn.execute(
            "INSERT INTO plants (id, pod, name, community_id, owner_user_id, valid_from)"
            " VALUES (1, 'IT001E00000001', 'p', 1, 1, '2024-01-01')"
        )
        await conn.executemany(
            "INSERT INTO devices (id, plant_id, model, interval_s, mqtt_username, status,"
            " created_by) VALUES ($1, 1, 'm', 900, $1, 'ONLINE', 1)",
            [("dev-a",), ("dev-b",), ("dev-c",)],
        )
        before = [
            ("dev-a", "spec:energy_produced", t1, 1000.0125),
            ("dev-a", "spec:energy_consumed", t2, 0.30000000000000004),
            ("dev-b", "tasmota:energy_consumed", t2, 17.0),
        ]
        await conn.executemany("INSERT INTO counter_states VALUES ($1, $2, $3, $4)", before)
    finally:
        await conn.close()

    _alembic(dsn, "upgrade", "head")
    conn = await asyncpg.connect(plain, server_settings={"search_path": "iot"})
    try:
        rows = dict(await conn.fetch("SELECT id, counters::text FROM devices ORDER BY id"))
        assert not await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'iot'"
            " AND tablename = 'counter_states'"
        )
    finally:
        await conn.close()
    assert registers(rows["dev-a"]) == {
        "spec:energy_produced": RegisterState(t1, 1000.0125),
        "spec:energy_consumed": RegisterState(t2, 0.30000000000000004),
    }
    assert registers(rows["dev-b"]) == {"tasmota:energy_consumed": RegisterState(t2, 17.0)}
    assert rows["dev-c"] is None

    _alembic(dsn, "downgrade", "0002")
    conn = await asyncpg.connect(plain, server_settings={"search_path": "iot"})
    try:
        back = await conn.fetch("SELECT * FROM counter_states ORDER BY device_id, register")
    finally:
        await conn.close()
    assert sorted(tuple(r) for r in back) == sorted(before)


async def test_migration_0004_carries_plants_and_memberships_over_and_back() -> None:
    database = "cerc_test_iot_migration"
    bootstrap_database(database)
    dsn = service_dsn("iot", database)
    _alembic(dsn, "upgrade", "0003")
    plain = dsn.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(plain, server_settings={"search_path": "iot"})
    try:
        await conn.execute(
            "INSERT INTO plants (id, pod, name, community_id, owner_user_id, valid_from)"
            " VALUES (1, 'IT001E00000001', 'p', 5, 7, '2024-01-01')"
        )
        await conn.execute(
            "INSERT INTO devices (id, plant_id, model, interval_s, mqtt_username, status,"
            " created_by) VALUES ('dev-a', 1, 'm', 900, 'dev-a', 'ONLINE', 1)"
        )
        await conn.execute(
            "INSERT INTO memberships (id, community_id, user_id, role, valid_from)"
            " VALUES (3, 5, 8, 'ADMIN', '2024-02-01')"
        )
    finally:
        await conn.close()

    _alembic(dsn, "upgrade", "head")
    conn = await asyncpg.connect(plain, server_settings={"search_path": "iot"})
    try:
        period = await conn.fetchrow("SELECT * FROM plant_periods")
        plant = await conn.fetchrow("SELECT * FROM plants")
        membership = await conn.fetchrow("SELECT * FROM memberships")
        device_plant = await conn.fetchval("SELECT plant_id FROM devices")
    finally:
        await conn.close()
    assert period is not None and plant is not None and membership is not None
    assert (period["plant_id"], period["community_id"], period["owner_user_id"]) == (1, 5, 7)
    assert (period["valid_from"], period["valid_to"]) == (datetime(2024, 1, 1).date(), None)
    assert (plant["plant_id"], plant["name"], plant["market_zone"]) == (1, "p", None)
    assert (membership["membership_id"], membership["user_id"], membership["role"]) == (
        3,
        8,
        "ADMIN",
    )
    assert device_plant == 1

    _alembic(dsn, "downgrade", "0003")
    conn = await asyncpg.connect(plain, server_settings={"search_path": "iot"})
    try:
        plant = await conn.fetchrow("SELECT * FROM plants")
        membership = await conn.fetchrow("SELECT * FROM memberships")
        periods = await conn.fetchval("SELECT to_regclass('plant_periods')")
    finally:
        await conn.close()
    assert plant is not None and membership is not None and periods is None
    assert (plant["id"], plant["name"]) == (1, "p")
    assert (membership["id"], membership["role"]) == (3, "ADMIN")
