"""``/api/users/me/export/`` and ``/api/users/me/erasure/``: the caller's own account."""

from __future__ import annotations

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, ok
from fastapi import APIRouter

from user_service import personal_data
from user_service.api.deps import Auth
from user_service.schemas import AccountErasure, AccountErasureOut, AccountExport

router = APIRouter(prefix="/api/users", tags=["users"])


@router.get("/me/export/")
async def export_my_account(
    session: DbSession, principal: CurrentPrincipal
) -> Envelope[AccountExport]:
    return ok(await personal_data.export_account(session, principal.user_id))


@router.post("/me/erasure/")
async def erase_my_account(
    body: AccountErasure, session: DbSession, auth: Auth, principal: CurrentPrincipal
) -> Envelope[AccountErasureOut]:
    """Erase the account (the password again, and the code with 2FA). The
    community service ends the memberships on the event; what the law keeps
    is listed in ``retained``."""
    return ok(await personal_data.erase_account(session, auth, principal, body))
