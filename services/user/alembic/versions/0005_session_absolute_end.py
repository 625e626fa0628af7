"""refresh tokens carry their login's absolute end

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "refresh_tokens",
        sa.Column("session_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    # Existing logins end when their current token would have.
    op.execute("UPDATE refresh_tokens SET session_expires_at = expires_at")
    op.alter_column("refresh_tokens", "session_expires_at", nullable=False)


def downgrade() -> None:
    op.drop_column("refresh_tokens", "session_expires_at")
