"""The CER registry: communities, their statute's shares, memberships and
plants, each with dated validity periods, half-open [valid_from, valid_to)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, get_args

from cerc_shared.consumer import define_processed_events
from cerc_shared.db import service_metadata
from cerc_shared.events import cer as catalogue
from cerc_shared.outbox import define_outbox
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The catalogue's vocabulary (cerc_shared.events.cer), as the tables' checks.
ROLES: tuple[str, ...] = get_args(catalogue.Role)
MEMBER_TYPES: tuple[str, ...] = get_args(catalogue.MemberType)
BODY_TYPES: tuple[str, ...] = get_args(catalogue.BodyType)
PLANT_TYPES: tuple[str, ...] = get_args(catalogue.PlantType)
MARKET_ZONES: tuple[str, ...] = get_args(catalogue.MarketZone)
TECHNOLOGIES: tuple[str, ...] = get_args(catalogue.Technology)
VOLTAGES: tuple[str, ...] = get_args(catalogue.Voltage)
REGIONS: tuple[str, ...] = get_args(catalogue.Region)


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


class Base(DeclarativeBase):
    metadata = service_metadata()


class Community(Base):
    """A CER (core_cerconfiguration in the specification)."""

    __tablename__ = "communities"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (CheckConstraint(f"market_zone IN {_in(MARKET_ZONES)}", name="market_zone"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    code: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    market_zone: Mapped[str] = mapped_column(String(4))
    # Storage keys (see storage.py), not URLs.
    logo: Mapped[str | None] = mapped_column(String(300))
    statute_document: Mapped[str | None] = mapped_column(String(300))
    regulation_document: Mapped[str | None] = mapped_column(String(300))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Minutes a meter may stay silent before its owner and the admins are told.
    device_offline_threshold_min: Mapped[int] = mapped_column(
        Integer, default=30, server_default="30"
    )
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    # Moved by triggers on every change of the community's registry (0003).
    registry_version: Mapped[int] = mapped_column(
        BigInteger,
        server_default=text("nextval('registry_versions')"),
        server_onupdate=FetchedValue(),
    )


class DistributionShares(Base):
    """The statute's split of the benefits, in force from ``valid_from`` until the next row."""

    __tablename__ = "distribution_shares"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        UniqueConstraint("community_id", "valid_from", name="uq_distribution_shares_period"),
        CheckConstraint("producers_pct + consumers_pct + community_fund_pct = 100", name="sum_100"),
        CheckConstraint(
            "producers_pct >= 0 AND consumers_pct >= 0 AND community_fund_pct >= 0",
            name="non_negative",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("communities.id", ondelete="RESTRICT")
    )
    valid_from: Mapped[date] = mapped_column(Date)
    producers_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    consumers_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    community_fund_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Membership(Base):
    """One period of a user in a CER. Leaving ends the period; nothing is deleted."""

    __tablename__ = "memberships"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(f"role IN {_in(ROLES)}", name="role"),
        CheckConstraint(f"member_type IN {_in(MEMBER_TYPES)}", name="member_type"),
        CheckConstraint(f"body_type IN {_in(BODY_TYPES)}", name="body_type"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period"),
        # One open period per user and community.
        Index(
            "uq_memberships_open",
            "community_id",
            "user_id",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index("ix_memberships_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("communities.id", ondelete="RESTRICT")
    )
    user_id: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String(10))
    member_type: Mapped[str] = mapped_column(String(12))
    body_type: Mapped[str] = mapped_column(String(20), default="NONE")
    # Sealed with cerc_shared.crypto.FieldCipher; never stored in clear.
    tax_code_sealed: Mapped[str | None] = mapped_column(String(300))
    vat_number_sealed: Mapped[str | None] = mapped_column(String(300))
    iban_sealed: Mapped[str | None] = mapped_column(String(300))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Plant(Base):
    """A point of delivery (POD) with its facts; ``community_id`` is its current CER."""

    __tablename__ = "plants"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(f"plant_type IN {_in(PLANT_TYPES)}", name="plant_type"),
        CheckConstraint(f"market_zone IN {_in(MARKET_ZONES)}", name="market_zone"),
        CheckConstraint(f"region IN {_in(REGIONS)}", name="region"),
        CheckConstraint("nominal_power_kw > 0", name="nominal_power"),
        CheckConstraint("capital_grant_eur_per_kw >= 0", name="capital_grant"),
        Index("ix_plants_community_type", "community_id", "plant_type", "id"),
        Index("ix_plants_community_substation", "community_id", "primary_substation", "id"),
        Index("ix_plants_owner_user_id", "owner_user_id"),
        # Covers the community summary (an index-only scan per community).
        Index(
            "ix_plants_summary",
            "community_id",
            "primary_substation",
            "plant_type",
            "nominal_power_kw",
            postgresql_where=text("is_active"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    pod: Mapped[str] = mapped_column(String(20), unique=True)
    plant_type: Mapped[str] = mapped_column(String(10))
    community_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("communities.id", ondelete="RESTRICT")
    )
    owner_user_id: Mapped[int] = mapped_column(BigInteger)
    nominal_power_kw: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    technology: Mapped[str | None] = mapped_column(String(10))
    entry_into_service: Mapped[date | None] = mapped_column(Date)
    address: Mapped[str] = mapped_column(Text, default="")
    city: Mapped[str] = mapped_column(String(100))
    province: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(30))
    zip_code: Mapped[str] = mapped_column(String(5))
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(10, 8))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(11, 8))
    primary_substation: Mapped[str] = mapped_column(String(20))
    market_zone: Mapped[str] = mapped_column(String(4))
    capital_grant_eur_per_kw: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal(0))
    connection_voltage: Mapped[str | None] = mapped_column(String(2))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class PlantPeriod(Base):
    """A plant's time in one CER, half-open [valid_from, valid_to)."""

    __tablename__ = "plant_periods"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period"),
        Index("ix_plant_periods_plant_id", "plant_id", "valid_from"),
        Index("ix_plant_periods_community_id", "community_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    plant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("plants.id", ondelete="RESTRICT"))
    community_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("communities.id", ondelete="RESTRICT")
    )
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


INVITATION_STATES = ("PENDING", "ACCEPTED", "REVOKED")


class Invitation(Base):
    """An e-mail address asked to join a community (issue 12, item 7). Nobody is
    added without their consent: the membership begins only when the person
    signed in with that address accepts. Until then the manager knows only the
    address they typed; whether it belongs to an account is never looked up."""

    __tablename__ = "invitations"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(f"status IN {_in(INVITATION_STATES)}", name="status"),
        CheckConstraint(f"role IN {_in(ROLES)}", name="role"),
        CheckConstraint(f"member_type IN {_in(MEMBER_TYPES)}", name="member_type"),
        CheckConstraint(f"body_type IN {_in(BODY_TYPES)}", name="body_type"),
        Index("ix_invitations_community_id", "community_id", "id"),
        Index(
            "ix_invitations_email_pending", "email_key", postgresql_where=text("status = 'PENDING'")
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("communities.id", ondelete="RESTRICT")
    )
    # As typed (shown back to the manager), and lower-cased for matching the signed-in user.
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254))
    # SHA-256 of the one-time token in the link: the table alone accepts nothing.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(10))
    member_type: Mapped[str] = mapped_column(String(12))
    body_type: Mapped[str] = mapped_column(String(20), default="NONE")
    joined_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="PENDING")
    invited_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When it was accepted or revoked; the membership it became is in the audit trail.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    membership_id: Mapped[int | None] = mapped_column(BigInteger)


class KnownUser(Base):
    """Read model of the user service's users, fed by user.v1 (never its tables)."""

    __tablename__ = "users"
    __table_args__ = (
        Index("ix_users_username_lower", text("lower(username)")),
        Index("ix_users_email", "email"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    username: Mapped[str] = mapped_column(String(150))
    email: Mapped[str] = mapped_column(String(254))
    first_name: Mapped[str] = mapped_column(String(150))
    last_name: Mapped[str] = mapped_column(String(150))
    user_type: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(Boolean)
    # Erased on the member's request: later user events do not bring the data back.
    erased: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class AuditEntry(Base):
    """Append-only (a trigger refuses UPDATE and DELETE): who changed what, before and after."""

    __tablename__ = "audit_log"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (Index("ix_audit_log_community_id", "community_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_user_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    correlation_id: Mapped[str | None] = mapped_column(String(128))


outbox = define_outbox(Base.metadata)
processed_events = define_processed_events(Base.metadata)
