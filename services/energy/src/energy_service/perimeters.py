"""Which points (plants/PODs) an aggregate covers: queries of the plant read model."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from energy_service.models import PlantView


class PerimeterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def plants(
        self,
        *,
        community_id: int,
        first_day: date,
        last_day: date,
        owner_user_id: int | None = None,
        primary_substation: str | None = None,
    ) -> list[PlantView]:
        """The community's plants whose period overlaps ``[first_day, last_day]``."""
        statement = select(PlantView).where(
            PlantView.community_id == community_id,
            PlantView.valid_from <= last_day,
            or_(PlantView.valid_to.is_(None), PlantView.valid_to > first_day),
        )
        if owner_user_id is not None:
            statement = statement.where(PlantView.owner_user_id == owner_user_id)
        if primary_substation is not None:
            statement = statement.where(PlantView.primary_substation == primary_substation)
        rows = await self.session.scalars(statement.order_by(PlantView.plant_id))
        return list(rows)

    async def places(self) -> list[tuple[int, int, str, date, date | None]]:
        """Every plant's (id, community, primary substation, period): the live tally's directory."""
        rows = await self.session.execute(
            select(
                PlantView.plant_id,
                PlantView.community_id,
                PlantView.primary_substation,
                PlantView.valid_from,
                PlantView.valid_to,
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]
