"""community_hours, community_months, hourly_dirty: a community's hourly sums
computed ahead of time for its aggregates (issue 13, item 3)

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "community_hours",
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("primary_substation", sa.String(50), nullable=False),
        *(
            sa.Column(name, sa.Float(), nullable=False)
            for name in (
                "produced_kwh",
                "consumed_kwh",
                "fed_in_kwh",
                "withdrawn_kwh",
                "self_consumption_kwh",
            )
        ),
        sa.Column("fed_in_wh", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn_wh", sa.BigInteger(), nullable=False),
        *(sa.Column(n, sa.Integer(), nullable=False) for n in ("official", "manual", "iot")),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("exchange", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "community_id", "hour", "primary_substation", name=op.f("pk_community_hours")
        ),
    )
    op.create_table(
        "community_months",
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("stays_sha256", sa.String(64), nullable=False),
        sa.Column(
            "computed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("community_id", "month", name=op.f("pk_community_months")),
    )
    op.create_table(
        "hourly_dirty",
        sa.Column("plant_id", sa.BigInteger(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "marked_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.clock_timestamp(),
        ),
        sa.PrimaryKeyConstraint("plant_id", "hour", name=op.f("pk_hourly_dirty")),
    )


def downgrade() -> None:
    op.drop_table("hourly_dirty")
    op.drop_table("community_months")
    op.drop_table("community_hours")
