"""Migration 0003: the energy service's read model of plants and memberships
becomes the kernel's registry read model, every row carried over and back."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest
from cerc_shared.testing import alembic, bootstrap_database, service_dsn

from .conftest import SERVICE_DIR

pytestmark = pytest.mark.servers


def _alembic(dsn: str, *args: str) -> None:
    alembic("energy", SERVICE_DIR, dsn, *args)


async def test_migration_0003_carries_plants_and_memberships_over_and_back() -> None:
    database = "cerc_test_energy_migration"
    bootstrap_database(database)
    dsn = service_dsn("energy", database)
    _alembic(dsn, "upgrade", "0002")
    plain = dsn.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(plain, server_settings={"search_path": "energy"})
    try:
        await conn.execute(
            "INSERT INTO plants (plant_id, pod, community_id, owner_user_id, primary_substation,"
            " market_zone, valid_from, valid_to)"
            " VALUES (1, 'IT001E00000001', 5, 7, 'AC001', 'NORD', '2024-01-01', '2025-01-01')"
        )
        await conn.execute(
            "INSERT INTO memberships (membership_id, community_id, user_id, role, valid_from)"
            " VALUES (3, 5, 8, 'ADMIN', '2024-02-01')"
        )
    finally:
        await conn.close()

    _alembic(dsn, "upgrade", "head")
    conn = await asyncpg.connect(plain, server_settings={"search_path": "energy"})
    try:
        period = await conn.fetchrow("SELECT * FROM plant_periods")
        plant = await conn.fetchrow("SELECT * FROM plants")
        membership = await conn.fetchrow("SELECT * FROM memberships")
    finally:
        await conn.close()
    assert period is not None and plant is not None and membership is not None
    assert (
        period["plant_id"],
        period["community_id"],
        period["owner_user_id"],
        period["valid_from"],
        period["valid_to"],
    ) == (1, 5, 7, date(2024, 1, 1), date(2025, 1, 1))
    assert (plant["pod"], plant["primary_substation"], plant["market_zone"]) == (
        "IT001E00000001",
        "AC001",
        "NORD",
    )
    assert plant["name"] is None  # not known until the plant's next event
    assert (membership["user_id"], membership["role"], membership["member_type"]) == (
        8,
        "ADMIN",
        None,
    )

    _alembic(dsn, "downgrade", "0002")
    conn = await asyncpg.connect(plain, server_settings={"search_path": "energy"})
    try:
        plant = await conn.fetchrow("SELECT * FROM plants")
        membership = await conn.fetchrow("SELECT * FROM memberships")
        periods = await conn.fetchval("SELECT to_regclass('plant_periods')")
    finally:
        await conn.close()
    assert plant is not None and membership is not None and periods is None
    assert "name" not in plant and plant["market_zone"] == "NORD"
    assert "member_type" not in membership and membership["valid_from"] == date(2024, 2, 1)
