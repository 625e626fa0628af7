"""The notification service's own tables.

``users``: the people it writes to (address, name, language), from user.v1.
The registry read model (communities, memberships, plants) answers who
administers a plant's community. ``notifications``: one row per (event,
recipient, channel), the unique key that makes a redelivered event tell
nobody twice; an e-mail row is also the delivery's queue entry (state,
attempts, next attempt). ``preferences``: a person's choice per kind and
channel (no row: the kind's default).
"""

from __future__ import annotations

from cerc_shared.consumer import define_processed_events
from cerc_shared.db import service_metadata
from cerc_shared.readmodels import RegistryReadModel
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = service_metadata()


registry = RegistryReadModel(Base.metadata)
processed_events = define_processed_events(Base.metadata)

CHANNELS = ("email", "inbox")
# pending: waiting to be sent (or to become visible in the inbox); sent;
# dead: given up after the last attempt; cancelled: no longer true before it
# was due (a device back online); digest: held for the day's digest;
# digested: went out inside a day's digest mail; suppressed: the person turned
# the kind off for the channel.
STATES = ("pending", "sent", "dead", "cancelled", "digest", "digested", "suppressed")

users = Table(
    "users",
    Base.metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("email", String(254), nullable=False),
    Column("first_name", String(150), nullable=False, server_default=""),
    # ISO 639-1; Italian until the user service publishes a preference.
    Column("language", String(5), nullable=False, server_default="it"),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

notifications = Table(
    "notifications",
    Base.metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False),
    # None: a mail to an address with no account here (an invitation).
    Column("user_id", BigInteger, nullable=True),
    Column("channel", String(10), nullable=False),
    Column("kind", String(60), nullable=False),
    # The facts the templates need, as the event gave them (JSON-safe).
    Column("params", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    # E-mail only: where it goes (kept, so a changed address is told at the old one).
    Column("address", String(254)),
    Column("language", String(5), nullable=False, server_default="it"),
    Column("state", String(12), nullable=False, server_default="pending"),
    # Not before: a device offline is told only once it stayed offline.
    Column("due_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # What a subject or a device groups by (e.g. the device id), to cancel a
    # pending "offline" when the device comes back.
    Column("subject", String(100)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("sent_at", DateTime(timezone=True)),
    Column("read_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint(
        "event_id",
        "user_id",
        "channel",
        name="uq_notifications_event_recipient",
        # One mail per invitation event too, where there is no user id.
        postgresql_nulls_not_distinct=True,
    ),
    CheckConstraint(f"channel IN {CHANNELS!r}", name="channel"),
    CheckConstraint(f"state IN {STATES!r}", name="state"),
    Index(
        "ix_notifications_due",
        "due_at",
        postgresql_where=text("state = 'pending' AND channel = 'email'"),
    ),
    Index("ix_notifications_inbox", "user_id", "channel", "id"),
    Index("ix_notifications_subject", "subject", "kind"),
)

preferences = Table(
    "preferences",
    Base.metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(60), primary_key=True),
    Column("channel", String(10), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Each community's choice of how long a meter may stay silent (cer.v1).
community_settings = Table(
    "community_settings",
    Base.metadata,
    Column("community_id", BigInteger, primary_key=True, autoincrement=False),
    Column("device_offline_threshold_min", Integer, nullable=False),
)

# Where each person has signed in from: a sign-in from a new address is told
# to the owner (security.new_session).
sign_ins = Table(
    "sign_ins",
    Base.metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("address", String(64), primary_key=True),
    Column("first_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
