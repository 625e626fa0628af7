"""Queries on the energy service's own tables outside the imports (those are
in ``imports.repository``)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.ext.asyncio import AsyncSession

from energy_service.models import reading_writes, settled_months


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


class SettledMonthRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, community_id: int, month: date, run_id: int) -> None:
        await self.session.execute(
            upsert(settled_months)
            .values(community_id=community_id, month=month, run_id=run_id)
            .on_conflict_do_update(
                index_elements=["community_id", "month"], set_={"run_id": run_id}
            )
        )

    async def settled(self, pairs: set[tuple[int, date]]) -> set[tuple[int, date]]:
        """Which of these (community, month) pairs are settled."""
        if not pairs:
            return set()
        communities = sorted({c for c, _ in pairs})
        rows = await self.session.execute(
            select(settled_months.c.community_id, settled_months.c.month).where(
                settled_months.c.community_id.in_(communities)
            )
        )
        return {(int(c), m) for c, m in rows} & pairs
