"""A person's own data in the user service: export it (GDPR art. 15/20) and
erase the account (art. 17).

Erasure pseudonymises the account rather than deleting the row: its id is
what the other services' records (memberships, settlements, payments) point
at, and those records are kept as the law requires. The change leaves as a
``user.updated`` event marked :data:`ACCOUNT_ERASED`, so the community
service ends the person's memberships and drops its copy of their data, and
every service's user-status cache refuses the still-valid access tokens.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from cerc_shared.auth import Principal
from cerc_shared.envelope import ApiError, NotFound
from cerc_shared.events.user import ACCOUNT_ERASED
from sqlalchemy.ext.asyncio import AsyncSession

from user_service import passwords
from user_service.models import User, audit
from user_service.repository import RefreshTokenRepository, UserRepository
from user_service.schemas import (
    AccountActionOut,
    AccountErasure,
    AccountErasureOut,
    AccountExport,
    SignInOut,
    UserOut,
)
from user_service.service import AuthContext, _check_otp, _publish_user

#: What stays after an erasure, and the rule that keeps it.
RETAINED = [
    "settlements, payments and accounting entries in your name: kept 10 years "
    "(art. 2220 codice civile) by the services that hold them",
    "the record that your account existed and was erased (the audit log), "
    "without your personal data",
]

_ERASED_FIELDS = ["email", "first_name", "is_active", "last_name", "username"]


async def export_account(session: AsyncSession, user_id: int) -> AccountExport:
    user = await UserRepository(session).get(user_id)
    if user is None:
        raise NotFound("user")
    return AccountExport(
        profile=UserOut.model_validate(user),
        sign_ins=[
            SignInOut.model_validate(t)
            for t in await RefreshTokenRepository(session).of_user(user_id)
        ],
        actions=[
            AccountActionOut.model_validate(a) for a in await audit.by_actor(session, user_id)
        ],
        exported_at=datetime.now(UTC),
    )


def _snapshot(user: User) -> dict[str, object]:
    # What the audit keeps of the account: never the personal data itself.
    return {"user_id": user.id, "user_type": user.user_type, "is_active": user.is_active}


async def erase_account(
    session: AsyncSession, ctx: AuthContext, principal: Principal, data: AccountErasure
) -> AccountErasureOut:
    user = await UserRepository(session).get_for_update(principal.user_id)
    if user is None:
        raise NotFound("user")
    # The password again (and the code with 2FA): a stolen access token alone
    # must not be enough to erase someone.
    if not passwords.verify_password(user.password_hash, data.password):
        raise ApiError(400, "wrong_password", "password is wrong", field="password")
    if user.two_factor_enabled:
        if data.otp is None:
            raise ApiError(
                422, "otp_required", "two-step verification is on: the code is needed", field="otp"
            )
        if not _check_otp(ctx, user, data.otp):
            raise ApiError(400, "invalid_otp", "the code is wrong or already used", field="otp")
    before = _snapshot(user)
    user.username = f"erased-{user.id}"
    user.email = f"erased-{user.id}@erased.invalid"
    user.first_name = user.last_name = ""
    user.is_active = False
    # Nobody can sign in as the erased account: no password matches a random hash.
    user.password_hash = passwords.hash_password(secrets.token_urlsafe(32))
    user.totp_secret = user.totp_pending_secret = None
    await RefreshTokenRepository(session).revoke_all_of(user.id)
    await session.flush()
    await audit.record(
        session,
        "user.erased",
        entity_type="user",
        entity_id=user.id,
        actor_user_id=principal.user_id,
        before=before,
        after=_snapshot(user),
    )
    await _publish_user(session, user, changed=[*_ERASED_FIELDS, ACCOUNT_ERASED])
    return AccountErasureOut(user_id=user.id, erased_at=datetime.now(UTC), retained=RETAINED)
