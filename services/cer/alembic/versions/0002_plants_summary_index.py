"""covering index for the community summary

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


def upgrade() -> None:
    op.create_index(
        "ix_plants_summary",
        "plants",
        ["community_id", "primary_substation", "plant_type", "nominal_power_kw"],
        unique=False,
        postgresql_where=sa.text("is_active"),
    )


def downgrade() -> None:
    op.drop_index("ix_plants_summary", table_name="plants", postgresql_where=sa.text("is_active"))
