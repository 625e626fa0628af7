"""The user service's domain logic. It flushes, never commits: the request's
session decides (see cerc_shared.db)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from cerc_shared.auth import Principal
from cerc_shared.crypto import FieldCipher
from cerc_shared.db import ReadPool
from cerc_shared.envelope import ApiError, NotFound, ok
from cerc_shared.events.user import (
    AccountSecurityChanged,
    SecurityChange,
    UserRegistered,
    UserStatusChanged,
    UserUpdated,
)
from cerc_shared.outbox import record
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from user_service import passwords, tokens
from user_service.models import RefreshToken, User, audit, outbox
from user_service.repository import (
    LoginThrottleRepository,
    ProfileReads,
    RefreshTokenRepository,
    UserRepository,
)
from user_service.schemas import (
    AdminUserPatch,
    LoginRequest,
    PasswordChange,
    RegisterRequest,
    TokenPair,
    TwoFactorDisable,
    TwoFactorSetup,
    UserOut,
    UserPatch,
)
from user_service.settings import UserSettings

PRODUCER = "user"


@dataclass(frozen=True)
class AuthContext:
    """What the service needs to sign and seal, built once in the lifespan."""

    settings: UserSettings
    signing_key: tokens.SigningKey
    cipher: FieldCipher


def _invalid_credentials() -> ApiError:
    # Same answer for unknown user and wrong password: no username probing.
    return ApiError(401, "invalid_credentials", "username or password is wrong", keep_changes=True)


async def _publish_user(session: AsyncSession, user: User, *, changed: list[str] | None) -> None:
    facts = {
        "user_id": user.id,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "user_type": user.user_type,
        "is_active": user.is_active,
        "language": user.language,
    }
    event = UserRegistered(**facts) if changed is None else UserUpdated(**facts, changed=changed)
    await record(session, outbox, event, producer=PRODUCER)
    if changed is not None and "is_active" in changed:
        # The status alone, for the services that must not read the facts
        # (a new account is active, every reader's default: nothing to say).
        await _publish_status(session, user.id, is_active=user.is_active)


async def _publish_status(session: AsyncSession, user_id: int, *, is_active: bool) -> None:
    status = UserStatusChanged(user_id=user_id, is_active=is_active)
    await record(session, outbox, status, producer=PRODUCER)


async def publish_statuses(session: AsyncSession) -> int:
    """Announce every deactivated account on ``user-status.v1`` again (seeding
    the topic where accounts were deactivated before it existed); the active
    ones need nothing, active being every reader's default."""
    inactive = await UserRepository(session).inactive_ids()
    for user_id in inactive:
        await _publish_status(session, user_id, is_active=False)
    return len(inactive)


async def _publish_security(
    session: AsyncSession,
    user: User,
    change: SecurityChange,
    *,
    address: str | None = None,
    user_agent: str | None = None,
) -> None:
    event = AccountSecurityChanged(
        user_id=user.id, change=change, address=address, user_agent=user_agent
    )
    await record(session, outbox, event, producer=PRODUCER)


async def register(session: AsyncSession, data: RegisterRequest) -> User:
    users = UserRepository(session)
    email = data.email.lower()
    if await users.username_taken(data.username):
        raise ApiError(
            409, "username_taken", "this username is already registered", field="username"
        )
    if await users.email_taken(email):
        raise ApiError(409, "email_taken", "this e-mail is already registered", field="email")
    if reason := passwords.weakness(data.password, username=data.username, email=email):
        raise ApiError(422, "weak_password", f"password {reason}", field="password")
    user = User(
        username=data.username,
        email=email,
        first_name=data.first_name,
        last_name=data.last_name,
        user_type=data.user_type,
        language=data.language,
        is_active=True,
        failed_logins=0,
        password_hash=passwords.hash_password(data.password),
    )
    try:
        await users.add(user)
    except IntegrityError as exc:  # a concurrent registration won the race
        raise ApiError(409, "already_registered", "username or e-mail already registered") from exc
    await _publish_user(session, user, changed=None)
    return user


async def _issue_pair(
    session: AsyncSession,
    ctx: AuthContext,
    user: User,
    family_id: uuid.UUID,
    session_expires_at: datetime | None = None,
) -> TokenPair:
    """Tokens for a login (a new family ending session_max_s from now) or a refresh."""
    now = datetime.now(UTC)
    if session_expires_at is None:
        session_expires_at = now + timedelta(seconds=ctx.settings.session_max_s)
    access = tokens.issue_access_token(
        ctx.signing_key,
        ctx.settings,
        user_id=user.id,
        username=user.username,
        user_type=user.user_type,
        session_id=family_id,
    )
    secret = tokens.new_refresh_secret()
    sliding = now + timedelta(seconds=ctx.settings.refresh_token_ttl_s)
    await RefreshTokenRepository(session).add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_hash=tokens.refresh_hash(secret),
            expires_at=min(sliding, session_expires_at),
            session_expires_at=session_expires_at,
        )
    )
    return TokenPair(access_token=access.token, refresh_token=secret, expires_in=access.expires_in)


def _check_otp(ctx: AuthContext, user: User, otp: str) -> bool:
    """A valid code for the current step (±1), never one already used."""
    assert user.totp_secret is not None
    totp = pyotp.TOTP(ctx.cipher.open(user.totp_secret, context=f"totp:{user.id}"))
    now = datetime.now(UTC)
    for drift in (0, -1, 1):
        at = now + timedelta(seconds=30 * drift)
        step = totp.timecode(at)
        if totp.verify(otp, for_time=at, valid_window=0):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False
            user.totp_last_step = step
            return True
    return False


def _throttle_subject(user: User | None, login: str) -> str:
    if user is not None:
        return f"user:{user.id}"
    return "name:" + hashlib.sha256(login.lower().encode()).hexdigest()


async def _count_failure(
    throttles: LoginThrottleRepository, settings: UserSettings, subject: str, address: str
) -> int | None:
    """Count a failed login; the seconds the address must now wait, if any."""
    now = datetime.now(UTC)
    forget_before = now - timedelta(seconds=settings.throttle_forget_s)
    await throttles.forget_stale(address, forget_before)
    failures = await throttles.record_failure(
        subject, address, now=now, forget_before=forget_before
    )
    beyond = failures - settings.max_failed_logins
    if beyond >= 0:
        # Growing, not fixed: 10^6 one-time codes would take years, yet the
        # owner (from another address) is never locked out by someone else.
        delay: int = min(settings.throttle_max_s, settings.throttle_base_s * 2 ** min(beyond, 30))
        await throttles.block(subject, address, now + timedelta(seconds=delay))
        return delay
    return None


async def _audit_login(
    session: AsyncSession,
    action: str,
    user: User | None,
    login_name: str,
    address: str,
    **facts: object,
) -> None:
    """Logins in the trail: succeeded, failed (why, and the wait it started)
    and throttled. A name that matches no account is kept as typed."""
    await audit.record(
        session,
        action,
        entity_type="user" if user else "login",
        entity_id=user.id if user else login_name[:64],
        actor_user_id=user.id if user else None,
        after={"address": address, **facts},
    )


async def login(
    session: AsyncSession,
    ctx: AuthContext,
    data: LoginRequest,
    *,
    address: str,
    user_agent: str | None = None,
) -> TokenPair:
    settings = ctx.settings
    user = await UserRepository(session).by_login(data.username)
    throttles = LoginThrottleRepository(session)
    subject = _throttle_subject(user, data.username)
    now = datetime.now(UTC)
    throttle = await throttles.get(subject, address)
    if throttle is not None and throttle.blocked_until is not None and throttle.blocked_until > now:
        # Answered before the password is looked at, and the same for a name
        # that matches no account: neither a password oracle nor an account one.
        retry = int((throttle.blocked_until - now).total_seconds()) + 1
        await _audit_login(
            session, "login.throttled", user, data.username, address, retry_after_s=retry
        )
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many failed logins from this address; try again in {retry} s",
            headers={"Retry-After": str(retry)},
            keep_changes=True,
        )
    if user is None or not passwords.verify_password(user.password_hash, data.password):
        if user is None:
            passwords.verify_password(passwords.DUMMY_HASH, data.password)
        else:
            user.failed_logins += 1
        wait = await _count_failure(throttles, settings, subject, address)
        await _audit_login(
            session, "login.failed", user, data.username, address,
            reason="credentials", blocked_for_s=wait,
        )  # fmt: skip
        raise _invalid_credentials()
    if not user.is_active:
        await _audit_login(session, "login.failed", user, data.username, address, reason="inactive")
        raise ApiError(
            403, "account_inactive", "this account has been deactivated", keep_changes=True
        )
    if user.two_factor_enabled:
        if data.otp is None:
            raise ApiError(
                401, "otp_required", "enter the code from your authenticator", field="otp"
            )
        if not _check_otp(ctx, user, data.otp):
            # A wrong code counts like a wrong password: knowing the password
            # must not buy unlimited guesses at six digits.
            user.failed_logins += 1
            wait = await _count_failure(throttles, settings, subject, address)
            await _audit_login(
                session, "login.failed", user, data.username, address,
                reason="otp", blocked_for_s=wait,
            )  # fmt: skip
            raise ApiError(401, "invalid_otp", "the code is wrong or already used", field="otp",
                           keep_changes=True)  # fmt: skip
    user.failed_logins = 0
    await throttles.clear(subject, address)
    await _publish_security(
        session, user, "session_started", address=address, user_agent=user_agent
    )
    await _audit_login(
        session, "login.succeeded", user, data.username, address, user_agent=user_agent
    )
    return await _issue_pair(session, ctx, user, family_id=uuid.uuid4())


async def refresh(session: AsyncSession, ctx: AuthContext, secret: str) -> TokenPair:
    """Rotate: the presented token is spent and a new one of the same family issued.

    Presenting a spent token means it was stolen or replayed: the whole family
    is revoked, so the thief's copy dies with the owner's.
    """
    repo = RefreshTokenRepository(session)
    token = await repo.by_hash_for_update(tokens.refresh_hash(secret))
    refused = ApiError(401, "invalid_refresh_token", "refresh token is not valid",
                       field="refresh_token", keep_changes=True)  # fmt: skip
    if token is None:
        raise refused
    now = datetime.now(UTC)
    if token.used_at is not None or token.revoked_at is not None:
        await repo.revoke_family(token.family_id)
        raise refused
    if token.expires_at <= now or token.session_expires_at <= now:
        raise refused
    user = await UserRepository(session).get(token.user_id)
    if user is None or not user.is_active:
        await repo.revoke_family(token.family_id)
        raise refused
    token.used_at = now
    return await _issue_pair(
        session, ctx, user, family_id=token.family_id, session_expires_at=token.session_expires_at
    )


async def logout(session: AsyncSession, principal: Principal, secret: str) -> None:
    repo = RefreshTokenRepository(session)
    token = await repo.by_hash_for_update(tokens.refresh_hash(secret))
    if token is None or token.user_id != principal.user_id:
        raise ApiError(400, "invalid_refresh_token", "unknown refresh token", field="refresh_token")
    await repo.revoke_family(token.family_id)


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await UserRepository(session).get(user_id)
    if user is None:
        raise NotFound("user")
    return user


async def profile_json(pool: ReadPool, user_id: int) -> bytes:
    """The caller's profile as a response body (``UserOut`` in the envelope)."""
    row = await ProfileReads(pool).profile(user_id)
    if row is None:
        raise NotFound("user")
    return ok(UserOut.model_validate(row)).model_dump_json().encode()


async def update_me(session: AsyncSession, user_id: int, patch: UserPatch) -> User:
    users = UserRepository(session)
    user = await users.get_for_update(user_id)
    if user is None:
        raise NotFound("user")
    changes = patch.model_dump(exclude_unset=True, exclude_none=True)
    if "email" in changes:
        changes["email"] = changes["email"].lower()
        if await users.email_taken(changes["email"], except_id=user.id):
            raise ApiError(409, "email_taken", "this e-mail is already registered", field="email")
    changed = [k for k, v in changes.items() if getattr(user, k) != v]
    for key in changed:
        setattr(user, key, changes[key])
    if changed:
        await session.flush()
        await _publish_user(session, user, changed=sorted(changed))
    return user


async def admin_update(
    session: AsyncSession, actor: Principal, user_id: int, patch: AdminUserPatch
) -> User:
    """A platform administrator changes an account (deactivates it, say): audited."""
    user = await UserRepository(session).get_for_update(user_id)
    if user is None:
        raise NotFound("user")
    changes = patch.model_dump(exclude_unset=True, exclude_none=True)
    changed = [k for k, v in changes.items() if getattr(user, k) != v]
    if changed:
        await audit.record(
            session,
            "user.updated",
            entity_type="user",
            entity_id=user.id,
            actor_user_id=actor.user_id,
            before={k: getattr(user, k) for k in sorted(changed)},
            after={k: changes[k] for k in sorted(changed)},
        )
    for key in changed:
        setattr(user, key, changes[key])
    if "is_active" in changed and not user.is_active:
        await RefreshTokenRepository(session).revoke_all_of(user.id)
    if changed:
        await session.flush()
        await _publish_user(session, user, changed=sorted(changed))
    return user


def _own_session(principal: Principal) -> uuid.UUID | None:
    try:
        return uuid.UUID(principal.session_id)
    except ValueError:
        return None


async def change_password(
    session: AsyncSession, principal: Principal, data: PasswordChange
) -> None:
    user = await UserRepository(session).get_for_update(principal.user_id)
    if user is None:
        raise NotFound("user")
    if not passwords.verify_password(user.password_hash, data.current_password):
        raise ApiError(400, "wrong_password", "current password is wrong", field="current_password")
    if reason := passwords.weakness(data.new_password, username=user.username, email=user.email):
        raise ApiError(422, "weak_password", f"password {reason}", field="new_password")
    user.password_hash = passwords.hash_password(data.new_password)
    # Every other session, started with the old password, ends with it.
    await RefreshTokenRepository(session).revoke_all_of(user.id, sparing=_own_session(principal))
    await _publish_security(session, user, "password_changed")


async def start_two_factor(session: AsyncSession, ctx: AuthContext, user_id: int) -> TwoFactorSetup:
    user = await UserRepository(session).get_for_update(user_id)
    if user is None:
        raise NotFound("user")
    if user.two_factor_enabled:
        raise ApiError(409, "two_factor_enabled", "two-factor authentication is already on")
    secret = pyotp.random_base32()
    user.totp_pending_secret = ctx.cipher.seal(secret, context=f"totp:{user.id}")
    uri = pyotp.TOTP(secret).provisioning_uri(
        name=user.username, issuer_name=ctx.settings.totp_issuer
    )
    return TwoFactorSetup(secret=secret, otpauth_uri=uri)


async def confirm_two_factor(
    session: AsyncSession, ctx: AuthContext, principal: Principal, otp: str
) -> User:
    user = await UserRepository(session).get_for_update(principal.user_id)
    if user is None:
        raise NotFound("user")
    if user.totp_pending_secret is None:
        raise ApiError(409, "no_pending_setup", "start two-factor setup first")
    user.totp_secret, user.totp_last_step = user.totp_pending_secret, None
    if not _check_otp(ctx, user, otp):
        raise ApiError(400, "invalid_otp", "the code is wrong", field="otp")
    user.totp_pending_secret = None
    # Sessions opened with the password alone (perhaps a thief's) end now.
    await RefreshTokenRepository(session).revoke_all_of(user.id, sparing=_own_session(principal))
    await _publish_security(session, user, "two_factor_enabled")
    return user


async def disable_two_factor(
    session: AsyncSession, ctx: AuthContext, user_id: int, data: TwoFactorDisable
) -> User:
    user = await UserRepository(session).get_for_update(user_id)
    if user is None:
        raise NotFound("user")
    if not user.two_factor_enabled:
        raise ApiError(409, "two_factor_disabled", "two-factor authentication is not on")
    if not passwords.verify_password(user.password_hash, data.password):
        raise ApiError(400, "wrong_password", "password is wrong", field="password")
    if not _check_otp(ctx, user, data.otp):
        raise ApiError(400, "invalid_otp", "the code is wrong or already used", field="otp")
    user.totp_secret = None
    user.totp_last_step = None
    await _publish_security(session, user, "two_factor_disabled")
    return user


async def list_users(
    session: AsyncSession,
    *,
    page: int,
    per_page: int,
    search: str | None,
    user_type: str | None,
    is_active: bool | None,
) -> tuple[list[User], int]:
    return await UserRepository(session).page(
        page=page, per_page=per_page, search=search, user_type=user_type, is_active=is_active
    )


async def admin_by_username(session: AsyncSession, username: str) -> User:
    user = await UserRepository(session).by_login(username)
    if user is None or user.user_type != "ADMIN":
        raise NotFound("platform administrator")
    return user


async def ensure_admin(session: AsyncSession, *, username: str, email: str, password: str) -> User:
    """Create the platform administrator if absent (used by `make dev` and operators)."""
    users = UserRepository(session)
    existing = await users.by_login(username)
    if existing is not None:
        return existing
    user = User(
        username=username,
        email=email.lower(),
        first_name="Platform",
        last_name="Administrator",
        user_type="ADMIN",
        is_active=True,
        failed_logins=0,
        password_hash=passwords.hash_password(password),
    )
    await users.add(user)
    await _publish_user(session, user, changed=None)
    return user
