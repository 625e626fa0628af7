"""plant_marks_dropped: a number drawn again each time the hourly worker drops
marks of a plant, so a kept answer of a plant's readings can tell it is still
current; and hourly_dirty indexed by marked_at, the worker's order (issue 13,
dashboard reads)

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE plant_marks_version")
    op.create_table(
        "plant_marks_dropped",
        sa.Column("plant_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column(
            "version",
            sa.BigInteger(),
            nullable=False,
            server_default=sa.text("nextval('plant_marks_version')"),
        ),
    )
    op.create_index("ix_hourly_dirty_marked_at", "hourly_dirty", ["marked_at"])


def downgrade() -> None:
    op.drop_index("ix_hourly_dirty_marked_at", table_name="hourly_dirty")
    op.drop_table("plant_marks_dropped")
    op.execute("DROP SEQUENCE plant_marks_version")
