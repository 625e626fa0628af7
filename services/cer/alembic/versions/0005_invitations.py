"""invitations: members join by accepting, never added by name (issue 12, item 7)

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
    op.create_table(
        "invitations",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column(
            "community_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "communities.id", ondelete="RESTRICT", name="fk_invitations_community_id"
            ),
            nullable=False,
        ),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("email_key", sa.String(254), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("member_type", sa.String(12), nullable=False),
        sa.Column("body_type", sa.String(20), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("invited_by", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("membership_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_invitations"),
        sa.UniqueConstraint("token_hash", name="uq_invitations_token_hash"),
        sa.CheckConstraint(
            "status IN ('PENDING', 'ACCEPTED', 'REVOKED')", name="ck_invitations_status"
        ),
        sa.CheckConstraint("role IN ('ADMIN', 'MEMBER', 'VIEWER')", name="ck_invitations_role"),
        sa.CheckConstraint(
            "member_type IN ('PRIVATE', 'ENTERPRISE')", name="ck_invitations_member_type"
        ),
        sa.CheckConstraint(
            "body_type IN ('NONE', 'LOCAL_AUTHORITY', 'PUBLIC_BODY', 'RELIGIOUS', "
            "'THIRD_SECTOR', 'ENVIRONMENTAL')",
            name="ck_invitations_body_type",
        ),
    )
    op.create_index("ix_invitations_community_id", "invitations", ["community_id", "id"])
    op.create_index(
        "ix_invitations_email_pending",
        "invitations",
        ["email_key"],
        postgresql_where=sa.text("status = 'PENDING'"),
    )


def downgrade() -> None:
    op.drop_table("invitations")
