"""Every query of the user service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from cerc_shared.db import ReadPool
from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from user_service.models import ApiClient, LoginThrottle, RefreshToken, User


class ProfileReads:
    """A user's profile in one statement on a bare connection: ``GET
    /api/users/me/`` is the hottest read, and an ORM session would add a
    checkout ping, BEGIN and COMMIT (five round trips more) around it."""

    _SQL = """
        SELECT id, username, email, first_name, last_name, user_type, is_active, language,
               totp_secret IS NOT NULL AS two_factor_enabled, created_at, updated_at
        FROM users WHERE id = $1
    """

    def __init__(self, pool: ReadPool) -> None:
        self.pool = pool

    async def profile(self, user_id: int) -> dict[str, Any] | None:
        async with self.pool.acquire() as connection:
            row = await connection.fetchrow(self._SQL, user_id)
        return None if row is None else dict(row)


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def get_for_update(self, user_id: int) -> User | None:
        return await self.session.scalar(select(User).where(User.id == user_id).with_for_update())

    async def by_login(self, login: str) -> User | None:
        """A user by username or e-mail, case-insensitively, locked for the login attempt."""
        lowered = login.lower()
        return await self.session.scalar(
            select(User)
            .where(or_(func.lower(User.username) == lowered, User.email == lowered))
            .with_for_update()
        )

    async def inactive_ids(self) -> list[int]:
        return list(await self.session.scalars(select(User.id).where(User.is_active.is_(False))))

    async def username_taken(self, username: str, *, except_id: int | None = None) -> bool:
        query = select(User.id).where(func.lower(User.username) == username.lower())
        if except_id is not None:
            query = query.where(User.id != except_id)
        return await self.session.scalar(query) is not None

    async def email_taken(self, email: str, *, except_id: int | None = None) -> bool:
        query = select(User.id).where(User.email == email.lower())
        if except_id is not None:
            query = query.where(User.id != except_id)
        return await self.session.scalar(query) is not None

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user

    async def page(
        self,
        *,
        page: int,
        per_page: int,
        search: str | None,
        user_type: str | None,
        is_active: bool | None,
    ) -> tuple[list[User], int]:
        query = select(User)
        if search:
            pattern = f"%{search.lower()}%"
            query = query.where(
                or_(
                    func.lower(User.username).like(pattern),
                    User.email.like(pattern),
                    func.lower(User.last_name).like(pattern),
                )
            )
        if user_type:
            query = query.where(User.user_type == user_type)
        if is_active is not None:
            query = query.where(User.is_active == is_active)
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(
            query.order_by(User.id).offset((page - 1) * per_page).limit(per_page)
        )
        return list(rows), int(total or 0)


class RefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: RefreshToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def by_hash_for_update(self, token_hash: str) -> RefreshToken | None:
        return await self.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        )

    async def revoke_family(self, family_id: uuid.UUID) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )

    async def revoke_all_of(self, user_id: int, *, sparing: uuid.UUID | None = None) -> None:
        """End every session of the user, but ``sparing`` (the caller's own) if given."""
        query = update(RefreshToken).where(
            RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)
        )
        if sparing is not None:
            query = query.where(RefreshToken.family_id != sparing)
        await self.session.execute(query.values(revoked_at=datetime.now(UTC)))

    async def of_user(self, user_id: int) -> list[RefreshToken]:
        """Every refresh token the user was issued (their sign-ins), oldest first."""
        rows = await self.session.scalars(
            select(RefreshToken)
            .where(RefreshToken.user_id == user_id)
            .order_by(RefreshToken.issued_at, RefreshToken.id)
        )
        return list(rows)


class LoginThrottleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, subject: str, address: str) -> LoginThrottle | None:
        return await self.session.get(LoginThrottle, (address, subject))

    async def record_failure(
        self, subject: str, address: str, *, now: datetime, forget_before: datetime
    ) -> int:
        """Count one failure (a streak older than ``forget_before`` starts again); the count."""
        new = insert(LoginThrottle).values(
            address=address, subject=subject, failures=1, last_failure_at=now
        )
        statement = new.on_conflict_do_update(
            index_elements=[LoginThrottle.address, LoginThrottle.subject],
            set_={
                # A quiet spell forgets the streak: the owner is not slowed forever.
                "failures": case(
                    (LoginThrottle.last_failure_at >= forget_before, LoginThrottle.failures + 1),
                    else_=1,
                ),
                "last_failure_at": now,
            },
        ).returning(LoginThrottle.failures)
        return int(await self.session.scalar(statement) or 0)

    async def block(self, subject: str, address: str, until: datetime) -> None:
        await self.session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.address == address, LoginThrottle.subject == subject)
            .values(blocked_until=until)
        )

    async def clear(self, subject: str, address: str) -> None:
        await self.session.execute(
            delete(LoginThrottle).where(
                LoginThrottle.address == address, LoginThrottle.subject == subject
            )
        )

    async def forget_stale(self, address: str, before: datetime) -> None:
        """Streaks from this address that went quiet (the table stays small under name spraying)."""
        await self.session.execute(
            delete(LoginThrottle).where(
                LoginThrottle.address == address,
                LoginThrottle.last_failure_at < before,
                or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until < before),
            )
        )


class ClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, client: ApiClient) -> ApiClient:
        self.session.add(client)
        await self.session.flush()
        return client

    async def by_client_id(self, client_id: str) -> ApiClient | None:
        return await self.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))

    async def by_client_id_for_update(self, client_id: str) -> ApiClient | None:
        return await self.session.scalar(
            select(ApiClient).where(ApiClient.client_id == client_id).with_for_update()
        )

    async def page(
        self, *, page: int, per_page: int, include_revoked: bool
    ) -> tuple[list[ApiClient], int]:
        query = select(ApiClient)
        if not include_revoked:
            query = query.where(ApiClient.revoked_at.is_(None))
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(
            query.order_by(ApiClient.id).offset((page - 1) * per_page).limit(per_page)
        )
        return list(rows), int(total or 0)
