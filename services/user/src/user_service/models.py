from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, get_args

from cerc_shared.audit import AuditTrail, define_audit_log
from cerc_shared.consumer import define_processed_events
from cerc_shared.db import service_metadata
from cerc_shared.events.user import Language, UserType
from cerc_shared.outbox import define_outbox
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

USER_TYPES: tuple[str, ...] = get_args(UserType)
LANGUAGES: tuple[str, ...] = get_args(Language)


class Base(DeclarativeBase):
    metadata = service_metadata()


class User(Base):
    __tablename__ = "users"
    # Fetch server-set timestamps with RETURNING so no lazy load follows a flush.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(f"user_type IN {USER_TYPES!r}", name="user_type"),
        CheckConstraint(f"language IN {LANGUAGES!r}", name="language"),
        Index("uq_users_username_lower", text("lower(username)"), unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(150))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str] = mapped_column(String(150))
    last_name: Mapped[str] = mapped_column(String(150))
    user_type: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # What mails and documents are written in (ISO 639-1).
    language: Mapped[str] = mapped_column(String(5), default="it", server_default="it")
    password_hash: Mapped[str] = mapped_column(String(255))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    # TOTP secrets are sealed with the service's data key (cerc_shared.crypto).
    totp_secret: Mapped[str | None] = mapped_column(String(300))
    totp_pending_secret: Mapped[str | None] = mapped_column(String(300))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_secret is not None


class RefreshToken(Base):
    """One refresh token of a login's family; the secret is stored only as a hash."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The family's absolute end, copied on rotation: refreshing never extends it.
    session_expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginThrottle(Base):
    """Failed logins of one account (or one unknown name) from one address.

    Keyed by account *and* address: an attacker's failures slow down only their
    own address, never the owner's. ``subject`` is ``user:<id>`` for an account
    and ``name:<sha256 of the lowered login>`` for a name that matches none, so
    an unknown name is throttled exactly like a real one and the answers do not
    tell which accounts exist.
    """

    __tablename__ = "login_throttles"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


CLIENT_KINDS = ("SERVICE", "PARTNER")


class ApiClient(Base):
    """A client of the OAuth 2.0 client-credentials grant: a platform service, or a partner
    bound to one community. The secret is stored only as its argon2 hash, like a password."""

    __tablename__ = "api_clients"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(f"kind IN {CLIENT_KINDS!r}", name="kind"),
        CheckConstraint(
            "(kind = 'PARTNER') = (community_id IS NOT NULL)", name="partner_has_community"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(150))
    kind: Mapped[str] = mapped_column(String(20))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    community_id: Mapped[int | None] = mapped_column(BigInteger)
    secret_hash: Mapped[str] = mapped_column(String(255))
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# The kernel's trail (cerc_shared.audit): client registrations and revocations,
# logins and user administration. Append-only (a trigger refuses UPDATE and DELETE).
audit_log = define_audit_log(Base.metadata)
audit = AuditTrail(audit_log)


class AuditEntry(Base):
    """An entry of ``audit_log``, for reading it as objects (the tests do)."""

    __table__ = audit_log

    id: Mapped[int]
    community_id: Mapped[int | None]
    actor_user_id: Mapped[int | None]
    at: Mapped[datetime]
    action: Mapped[str]
    entity_type: Mapped[str]
    entity_id: Mapped[str]
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    correlation_id: Mapped[str | None]


outbox = define_outbox(Base.metadata)
processed_events = define_processed_events(Base.metadata)
