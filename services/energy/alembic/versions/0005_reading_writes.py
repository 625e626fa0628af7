"""reading_writes: the audit of manual and official readings posted over the API

Manual and official readings outrank the meter in settlement (issue 12,
item 5): each write records who posted it, when, under which request id, what
it posted and the readings already stored at those instants (what it
replaces or supersedes).

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reading_writes",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("plant_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("written_by", sa.BigInteger(), nullable=False),
        sa.Column("correlation_id", sa.String(length=100), nullable=True),
        sa.Column(
            "written_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("readings", postgresql.JSONB(), nullable=False),
        sa.Column("replaced", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_writes")),
        sa.UniqueConstraint("event_id", name=op.f("uq_reading_writes_event_id")),
    )
    op.create_index(
        op.f("ix_reading_writes_plant_id"), "reading_writes", ["plant_id", "written_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_reading_writes_plant_id"), table_name="reading_writes")
    op.drop_table("reading_writes")
