"""Migrations run as the service's own role, inside its own schema.

Several replicas may start at once and each runs `alembic upgrade head`: a
transaction-level advisory lock, taken before the version table is read,
makes them migrate one after the other (the later ones find nothing to do).
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from user_service.models import Base
from user_service.settings import UserSettings

settings = UserSettings()
url = context.config.get_main_option("sqlalchemy.url") or settings.database_url
schema = settings.database_schema


def _run(connection: Connection) -> None:
    # Released when the migration transaction commits (or rolls back).
    connection.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": "alembic:user"}
    )
    connection.execute(text(f'SET search_path TO "{schema}"'))
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table_schema=schema,
        include_schemas=False,
        include_object=lambda obj, name, type_, *_: (
            not (type_ == "table" and name == "alembic_version")
        ),
    )
    with context.begin_transaction():
        context.run_migrations()


async def main() -> None:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


asyncio.run(main())
