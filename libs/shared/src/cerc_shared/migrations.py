"""Running a service's Alembic migrations: as the service's own role, inside
its own schema, one replica at a time.

Several replicas may start at once and each runs `alembic upgrade head`: a
transaction-level advisory lock, taken before the version table is read,
makes them migrate one after the other (the later ones find nothing to do).
Each service's ``alembic/env.py`` is one call to :func:`run_migrations`.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from cerc_shared.settings import ServiceSettings


def run_migrations(metadata: MetaData, settings: ServiceSettings) -> None:
    url = context.config.get_main_option("sqlalchemy.url") or settings.database_url
    schema = settings.database_schema

    def migrate(connection: Connection) -> None:
        # Released when the migration transaction commits (or rolls back).
        connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"alembic:{schema}"}
        )
        connection.execute(text(f'SET search_path TO "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=False,
            # The version table lives in the schema but is not a model.
            include_object=lambda obj, name, type_, *_: (
                not (type_ == "table" and name == "alembic_version")
            ),
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
            await connection.commit()
        await engine.dispose()

    asyncio.run(main())
