"""Who may see and do what, decided from the registry read model on the Italian today."""

from __future__ import annotations

from cerc_shared.auth import Principal
from cerc_shared.clock import italian_today
from cerc_shared.envelope import ApiError, NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from economic_service.models import registry


async def require_admin(session: AsyncSession, principal: Principal, community_id: int) -> None:
    """A community ADMIN (or a platform admin); a member gets 403, anyone else 404."""
    if principal.is_platform_admin:
        return
    reader = registry.reader(session)
    today = italian_today()
    if await reader.is_community_admin(principal.user_id, community_id, today):
        return
    memberships = await reader.memberships_of_user(principal.user_id, on=today)
    if any(m.community_id == community_id for m in memberships):
        raise ApiError(403, "forbidden", "community administrators only")
    raise NotFound("community")


async def require_community(session: AsyncSession, community_id: int) -> None:
    if await registry.reader(session).community(community_id) is None:
        raise NotFound("community")
