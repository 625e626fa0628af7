"""audit_log as the kernel defines it (cerc_shared.audit): logins and user administration

Logins (success, failure, throttled) are audited too: a failure under a name
that matches no account has no actor, so actor_user_id may be NULL. The
community an entry concerns is a column in every service's trail (here
always NULL, users belong to no community), so one reader pages them all.

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
    op.add_column("audit_log", sa.Column("community_id", sa.BigInteger(), nullable=True))
    op.alter_column("audit_log", "actor_user_id", existing_type=sa.BigInteger(), nullable=True)
    op.create_index("ix_audit_log_community_id", "audit_log", ["community_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_log_community_id", table_name="audit_log")
    # Entries without an actor cannot go back under NOT NULL; the trail is append-only.
    op.alter_column("audit_log", "actor_user_id", existing_type=sa.BigInteger(), nullable=False)
    op.drop_column("audit_log", "community_id")
