"""mails to addresses without an account, sign-in addresses, digested notices,
communities' thresholds for silent meters

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

OLD_STATES = "('pending', 'sent', 'dead', 'cancelled', 'digest', 'suppressed')"
NEW_STATES = "('pending', 'sent', 'dead', 'cancelled', 'digest', 'digested', 'suppressed')"


def upgrade() -> None:
    op.alter_column("notifications", "user_id", nullable=True)
    op.drop_constraint(op.f("uq_notifications_event_recipient"), "notifications", type_="unique")
    op.create_unique_constraint(
        op.f("uq_notifications_event_recipient"),
        "notifications",
        ["event_id", "user_id", "channel"],
        postgresql_nulls_not_distinct=True,
    )
    op.drop_constraint(op.f("ck_notifications_state"), "notifications", type_="check")
    op.create_check_constraint(
        op.f("ck_notifications_state"), "notifications", f"state IN {NEW_STATES}"
    )
    op.create_table(
        "sign_ins",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column(
            "first_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "last_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("user_id", "address", name=op.f("pk_sign_ins")),
    )

    op.create_table(
        "community_settings",
        sa.Column("community_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("device_offline_threshold_min", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_community_settings")),
    )


def downgrade() -> None:
    op.drop_table("community_settings")
    op.drop_table("sign_ins")
    op.drop_constraint(op.f("ck_notifications_state"), "notifications", type_="check")
    op.create_check_constraint(
        op.f("ck_notifications_state"), "notifications", f"state IN {OLD_STATES}"
    )
    op.execute("DELETE FROM notifications WHERE user_id IS NULL")
    op.drop_constraint(op.f("uq_notifications_event_recipient"), "notifications", type_="unique")
    op.create_unique_constraint(
        op.f("uq_notifications_event_recipient"),
        "notifications",
        ["event_id", "user_id", "channel"],
    )
    op.alter_column("notifications", "user_id", nullable=False)
