"""``GET /internal/cer/communities/{id}/payees/``: members' names and IBANs, in clear.

Internal: the economic service pays members from it. Never routed by the gateway
(its prefix is not /api/), and only a client token with ``registry:read-iban`` is
accepted (a scope partners can never be granted); IBANs never travel in events.
"""

from __future__ import annotations

from typing import Annotated

from cerc_shared.auth import ClientPrincipal, Scope, require_client_scope
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, NotFound, ok
from fastapi import APIRouter
from pydantic import BaseModel

from cer_service.api.deps import Cer, Id
from cer_service.repository import CommunityRepository
from cer_service.service import members

router = APIRouter(prefix="/internal/cer", tags=["internal"])


class PayeeOut(BaseModel):
    user_id: int
    name: str | None
    iban: str | None


@router.get("/communities/{community_id}/payees/")
async def payees(
    community_id: Id,
    session: DbSession,
    ctx: Cer,
    client: Annotated[ClientPrincipal, require_client_scope(Scope.REGISTRY_READ_IBAN)],
) -> Envelope[list[PayeeOut]]:
    client.check_community(community_id)
    if await CommunityRepository(session).get(community_id) is None:
        raise NotFound("community")
    found = await members.payees(session, ctx, community_id)
    return ok([PayeeOut(user_id=p.user_id, name=p.name, iban=p.iban) for p in found])
