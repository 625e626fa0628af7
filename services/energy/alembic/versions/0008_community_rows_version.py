"""community_months.rows_version: a number drawn again each time a community
month's hourly rows change, so a kept answer can tell it is still current
(issue 13, dashboard reads)

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE community_rows_version")
    op.add_column(
        "community_months",
        sa.Column(
            "rows_version",
            sa.BigInteger(),
            nullable=False,
            server_default=sa.text("nextval('community_rows_version')"),
        ),
    )


def downgrade() -> None:
    op.drop_column("community_months", "rows_version")
    op.execute("DROP SEQUENCE community_rows_version")
