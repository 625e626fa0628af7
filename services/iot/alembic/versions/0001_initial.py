"""devices, commands, acks, counter state, plant and membership read models, outbox

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
        "command_acks",
        sa.Column("command_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("result", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("result IN ('OK', 'ERROR')", name=op.f("ck_command_acks_result")),
        sa.PrimaryKeyConstraint("command_id", name=op.f("pk_command_acks")),
    )
    op.create_table(
        "counter_states",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("register", sa.String(length=80), nullable=False),
        sa.Column("last_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_kwh", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "register", name=op.f("pk_counter_states")),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "role IN ('ADMIN', 'MEMBER', 'VIEWER')", name=op.f("ck_memberships_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
    )
    op.create_index(
        op.f("ix_memberships_community_id"), "memberships", ["community_id"], unique=False
    )
    op.create_index(op.f("ix_memberships_user_id"), "memberships", ["user_id"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("envelope", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "plants",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("pod", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_user_id", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plants")),
    )
    op.create_index(op.f("ix_plants_community_id"), "plants", ["community_id"], unique=False)
    op.create_index(op.f("ix_plants_owner_user_id"), "plants", ["owner_user_id"], unique=False)
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
        "devices",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("plant_id", sa.BigInteger(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("firmware", sa.String(length=100), nullable=True),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("mqtt_username", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("status_detail", sa.String(length=500), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("battery_level", sa.Float(), nullable=True),
        sa.Column("signal_strength", sa.Float(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('ONLINE', 'OFFLINE', 'ERROR')", name=op.f("ck_devices_status")
        ),
        sa.ForeignKeyConstraint(["plant_id"], ["plants.id"], name=op.f("fk_devices_plant_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("mqtt_username", name=op.f("uq_devices_mqtt_username")),
    )
    op.create_index(op.f("ix_devices_plant_id"), "devices", ["plant_id"], unique=False)
    op.create_table(
        "commands",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("command", sa.String(length=64), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column(
            "sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f("fk_commands_device_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commands")),
    )
    op.create_index(op.f("ix_commands_device_id"), "commands", ["device_id"], unique=False)


def downgrade() -> None:

    op.drop_index(op.f("ix_commands_device_id"), table_name="commands")
    op.drop_table("commands")
    op.drop_index(op.f("ix_devices_plant_id"), table_name="devices")
    op.drop_table("devices")
    op.drop_table("processed_events")
    op.drop_index(op.f("ix_plants_owner_user_id"), table_name="plants")
    op.drop_index(op.f("ix_plants_community_id"), table_name="plants")
    op.drop_table("plants")
    op.drop_index(
        "ix_outbox_pending", table_name="outbox", postgresql_where=sa.text("published_at IS NULL")
    )
    op.drop_table("outbox")
    op.drop_index(op.f("ix_memberships_user_id"), table_name="memberships")
    op.drop_index(op.f("ix_memberships_community_id"), table_name="memberships")
    op.drop_table("memberships")
    op.drop_table("counter_states")
    op.drop_table("command_acks")
