"""settled_months: community months with a FINAL settlement (from settlement.v1)

A manual or official reading inside a settled month is refused (issue 12,
item 5): it would change what was already paid.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "settled_months",
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("community_id", "month", name=op.f("pk_settled_months")),
    )


def downgrade() -> None:
    op.drop_table("settled_months")
