"""payouts: the community's payout account, batches (with their pain.001 file), transfers;
management fees by date

Revision ID: 0002_payouts
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_payouts"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payout_accounts",
        sa.Column("community_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("debtor_name", sa.String(length=70), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("minimum_cents", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_payout_accounts")),
    )
    op.create_table(
        "payouts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message_id", sa.String(length=35), nullable=False),
        sa.Column("execution_date", sa.Date(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("debtor_iban", sa.String(length=34), nullable=False),
        sa.Column("left_out", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("file", sa.LargeBinary(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["journal_entries.id"], name=op.f("fk_payouts_entry_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
        sa.UniqueConstraint("message_id", name=op.f("uq_payouts_message_id")),
    )
    op.create_index("ix_payouts_community_id", "payouts", ["community_id", "id"], unique=False)
    op.create_table(
        "payout_transfers",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("payout_id", sa.BigInteger(), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("creditor_name", sa.String(length=140), nullable=False),
        sa.Column("iban_last4", sa.String(length=4), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["journal_entries.id"], name=op.f("fk_payout_transfers_entry_id")
        ),
        sa.ForeignKeyConstraint(
            ["payout_id"], ["payouts.id"], name=op.f("fk_payout_transfers_payout_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_transfers")),
        sa.UniqueConstraint("end_to_end_id", name=op.f("uq_payout_transfers_end_to_end_id")),
    )
    op.create_index(
        "ix_payout_transfers_payout_id", "payout_transfers", ["payout_id"], unique=False
    )
    op.create_index(
        "ix_payout_transfers_user_id",
        "payout_transfers",
        ["community_id", "user_id"],
        unique=False,
    )

    op.create_table(
        "management_fees",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("percent", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("fixed_cents", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_management_fees")),
        sa.UniqueConstraint(
            "community_id", "valid_from", name=op.f("uq_management_fees_community_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("management_fees")
    op.drop_index("ix_payout_transfers_user_id", table_name="payout_transfers")
    op.drop_index("ix_payout_transfers_payout_id", table_name="payout_transfers")
    op.drop_table("payout_transfers")
    op.drop_index("ix_payouts_community_id", table_name="payouts")
    op.drop_table("payouts")
    op.drop_table("payout_accounts")
