"""Who may do what in a community: the caller's standing, and the checks at the door."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cerc_shared.auth import Principal
from cerc_shared.clock import italian_today
from cerc_shared.crypto import FieldCipher
from cerc_shared.envelope import ApiError, NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from cer_service.models import Community
from cer_service.read_cache import ReadCache
from cer_service.registry_watch import RegistryWatch
from cer_service.repository import CommunityRepository, MembershipRepository
from cer_service.settings import CerSettings
from cer_service.storage import DocumentStorage


def today() -> date:
    """Periods are Italian calendar dates."""
    return italian_today()


@dataclass(frozen=True)
class CerContext:
    """What the service needs beyond the session, built once in the lifespan."""

    settings: CerSettings
    cipher: FieldCipher
    storage: DocumentStorage
    reads: ReadCache
    watch: RegistryWatch | None = None


@dataclass(frozen=True)
class Access:
    community: Community
    user_id: int
    role: str | None
    platform_admin: bool

    @property
    def can_manage(self) -> bool:
        return self.platform_admin or self.role == "ADMIN"

    @property
    def reads_all(self) -> bool:
        return self.platform_admin or self.role in ("ADMIN", "VIEWER")


async def access_to(
    session: AsyncSession, principal: Principal, community_id: int, *, for_update: bool = False
) -> Access:
    """The caller's standing in a community; 404 for anyone with none (no probing)."""
    repo = CommunityRepository(session)
    community = await (repo.get_for_update(community_id) if for_update else repo.get(community_id))
    if community is None:
        raise NotFound("community")
    if principal.is_platform_admin:
        role = await MembershipRepository(session).role_in(community_id, principal.user_id, today())
        return Access(community, principal.user_id, role, platform_admin=True)
    role = await MembershipRepository(session).role_in(community_id, principal.user_id, today())
    if role is None:
        raise NotFound("community")
    return Access(community, principal.user_id, role, platform_admin=False)


def forbidden(message: str = "only the community's administrators may do this") -> ApiError:
    return ApiError(403, "forbidden", message)


def require_manager(acc: Access) -> None:
    if not acc.can_manage:
        raise forbidden()


def require_active(community: Community) -> None:
    if not community.is_active:
        raise ApiError(409, "community_inactive", "this community has been deactivated")
