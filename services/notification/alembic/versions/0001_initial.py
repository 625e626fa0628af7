"""notifications, preferences, users and registry read models

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "communities",
        sa.Column("community_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("market_zone", sa.String(length=10), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_communities")),
    )
    op.create_table(
        "community_shares",
        sa.Column("community_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("producers_pct", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("consumers_pct", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.Column("community_fund_pct", sa.Numeric(precision=7, scale=4), nullable=False),
        sa.PrimaryKeyConstraint("community_id", "valid_from", name=op.f("pk_community_shares")),
    )
    op.create_table(
        "memberships",
        sa.Column("membership_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("member_type", sa.String(length=20), nullable=True),
        sa.Column("body_type", sa.String(length=40), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("membership_id", name=op.f("pk_memberships")),
    )
    op.create_index("ix_memberships_community_id", "memberships", ["community_id"], unique=False)
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column(
            "params",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("address", sa.String(length=254), nullable=True),
        sa.Column("language", sa.String(length=5), server_default="it", nullable=False),
        sa.Column("state", sa.String(length=12), server_default="pending", nullable=False),
        sa.Column(
            "due_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("subject", sa.String(length=100), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("channel IN ('email', 'inbox')", name=op.f("ck_notifications_channel")),
        sa.CheckConstraint(
            "state IN ('pending', 'sent', 'dead', 'cancelled', 'digest', 'suppressed')",
            name=op.f("ck_notifications_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "event_id", "user_id", "channel", name="uq_notifications_event_recipient"
        ),
    )
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("state = 'pending' AND channel = 'email'"),
    )
    op.create_index(
        "ix_notifications_inbox", "notifications", ["user_id", "channel", "id"], unique=False
    )
    op.create_index("ix_notifications_subject", "notifications", ["subject", "kind"], unique=False)
    op.create_table(
        "plant_periods",
        sa.Column("plant_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("community_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("owner_user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "plant_id", "community_id", "valid_from", name=op.f("pk_plant_periods")
        ),
    )
    op.create_index(
        "ix_plant_periods_community_id",
        "plant_periods",
        ["community_id", "valid_from"],
        unique=False,
    )
    op.create_table(
        "plants",
        sa.Column("plant_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("pod", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_user_id", sa.BigInteger(), nullable=False),
        sa.Column("plant_type", sa.String(length=20), nullable=True),
        sa.Column("nominal_power_kw", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("technology", sa.String(length=40), nullable=True),
        sa.Column("entry_into_service", sa.Date(), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("primary_substation", sa.String(length=50), nullable=True),
        sa.Column("market_zone", sa.String(length=10), nullable=True),
        sa.Column("capital_grant_eur_per_kw", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("connection_voltage", sa.String(length=40), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("plant_id", name=op.f("pk_plants")),
    )
    op.create_index("ix_plants_community_id", "plants", ["community_id"], unique=False)
    op.create_index("ix_plants_owner_user_id", "plants", ["owner_user_id"], unique=False)
    op.create_table(
        "preferences",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id", "kind", "channel", name=op.f("pk_preferences")),
    )
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("consumer", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id", "consumer", name=op.f("pk_processed_events")),
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("first_name", sa.String(length=150), server_default="", nullable=False),
        sa.Column("language", sa.String(length=5), server_default="it", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
    )


def downgrade() -> None:
    op.drop_table("users")
    op.drop_table("processed_events")
    op.drop_table("preferences")
    op.drop_index("ix_plants_owner_user_id", table_name="plants")
    op.drop_index("ix_plants_community_id", table_name="plants")
    op.drop_table("plants")
    op.drop_index("ix_plant_periods_community_id", table_name="plant_periods")
    op.drop_table("plant_periods")
    op.drop_index("ix_notifications_subject", table_name="notifications")
    op.drop_index("ix_notifications_inbox", table_name="notifications")
    op.drop_index(
        "ix_notifications_due",
        table_name="notifications",
        postgresql_where=sa.text("state = 'pending' AND channel = 'email'"),
    )
    op.drop_table("notifications")
    op.drop_index("ix_memberships_user_id", table_name="memberships")
    op.drop_index("ix_memberships_community_id", table_name="memberships")
    op.drop_table("memberships")
    op.drop_table("community_shares")
    op.drop_table("communities")
