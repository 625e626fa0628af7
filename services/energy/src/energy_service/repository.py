"""Queries on the energy service's own tables outside the imports (those are
in ``imports.repository``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from energy_service.models import reading_writes


class ReadingAuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        *,
        event_id: uuid.UUID,
        plant_id: int,
        source: str,
        written_by: int,
        correlation_id: str | None,
        readings: list[dict[str, Any]],
        replaced: list[dict[str, Any]],
    ) -> None:
        await self.session.execute(
            insert(reading_writes).values(
                event_id=event_id,
                plant_id=plant_id,
                source=source,
                written_by=written_by,
                correlation_id=correlation_id,
                readings=readings,
                replaced=replaced,
            )
        )
