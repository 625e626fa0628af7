"""a community chooses how long a meter may stay silent before people are told

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
    op.add_column(
        "communities",
        sa.Column(
            "device_offline_threshold_min", sa.Integer(), nullable=False, server_default="30"
        ),
    )


def downgrade() -> None:
    op.drop_column("communities", "device_offline_threshold_min")
