"""The energy service's own tables: read models of plants and memberships
(fed from plant.v1 and membership.v1), the consumer's processed events and
the outbox. Readings themselves live in the time-series store."""

from __future__ import annotations

from datetime import date, datetime

from cerc_shared.consumer import define_processed_events
from cerc_shared.outbox import define_outbox
from sqlalchemy import BigInteger, Date, DateTime, Index, MetaData, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class PlantView(Base):
    """What this service knows of a plant: whose it is and which community it is in."""

    __tablename__ = "plants"
    __table_args__ = (
        Index("ix_plants_owner_user_id", "owner_user_id"),
        Index("ix_plants_community_id", "community_id"),
    )

    plant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    pod: Mapped[str] = mapped_column(String(20))
    community_id: Mapped[int] = mapped_column(BigInteger)
    owner_user_id: Mapped[int] = mapped_column(BigInteger)
    primary_substation: Mapped[str] = mapped_column(String(50))
    market_zone: Mapped[str] = mapped_column(String(10))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class MembershipView(Base):
    """A user's role in a community over ``[valid_from, valid_to)``."""

    __tablename__ = "memberships"
    __table_args__ = (Index("ix_memberships_user_id", "user_id"),)

    membership_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    community_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String(20))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


outbox = define_outbox(Base.metadata)
processed_events = define_processed_events(Base.metadata)
