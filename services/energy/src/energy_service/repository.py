"""Every query of the energy service's own tables."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from energy_service.models import MembershipView, PlantView


def _active_on(day: date) -> ColumnElement[bool]:
    return and_(
        MembershipView.valid_from <= day,
        or_(MembershipView.valid_to.is_(None), MembershipView.valid_to > day),
    )


class ReadModelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_plant(
        self,
        *,
        plant_id: int,
        pod: str,
        community_id: int,
        owner_user_id: int,
        primary_substation: str,
        market_zone: str,
        valid_from: date,
        valid_to: date | None,
    ) -> None:
        values = {
            "pod": pod,
            "community_id": community_id,
            "owner_user_id": owner_user_id,
            "primary_substation": primary_substation,
            "market_zone": market_zone,
            "valid_from": valid_from,
            "valid_to": valid_to,
        }
        statement = insert(PlantView).values(plant_id=plant_id, **values)
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=[PlantView.plant_id], set_=values)
        )

    async def upsert_membership(
        self,
        *,
        membership_id: int,
        community_id: int,
        user_id: int,
        role: str,
        valid_from: date,
        valid_to: date | None,
    ) -> None:
        values = {
            "community_id": community_id,
            "user_id": user_id,
            "role": role,
            "valid_from": valid_from,
            "valid_to": valid_to,
        }
        statement = insert(MembershipView).values(membership_id=membership_id, **values)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[MembershipView.membership_id], set_=values
            )
        )

    async def plant(self, plant_id: int) -> PlantView | None:
        return await self.session.get(PlantView, plant_id)

    async def is_community_admin(self, user_id: int, community_id: int, on: date) -> bool:
        found = await self.session.scalar(
            select(MembershipView.membership_id)
            .where(
                MembershipView.user_id == user_id,
                MembershipView.community_id == community_id,
                MembershipView.role == "ADMIN",
                _active_on(on),
            )
            .limit(1)
        )
        return found is not None

    async def is_community_member(self, user_id: int, community_id: int, on: date) -> bool:
        """Whether the user is in the community on ``on``, in any role."""
        found = await self.session.scalar(
            select(MembershipView.membership_id)
            .where(
                MembershipView.user_id == user_id,
                MembershipView.community_id == community_id,
                _active_on(on),
            )
            .limit(1)
        )
        return found is not None

    async def visible_plant_ids(self, user_id: int, on: date) -> list[int]:
        """The plants a user owns and those of the communities they administer."""
        administered = select(MembershipView.community_id).where(
            MembershipView.user_id == user_id, MembershipView.role == "ADMIN", _active_on(on)
        )
        rows = await self.session.scalars(
            select(PlantView.plant_id)
            .where(
                or_(
                    PlantView.owner_user_id == user_id,
                    PlantView.community_id.in_(administered),
                )
            )
            .order_by(PlantView.plant_id)
        )
        return list(rows)
