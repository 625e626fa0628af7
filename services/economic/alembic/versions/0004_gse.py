"""the GSE loop: credentials, registered plants, sync jobs, the GSE's figures, advances,
payments and balance, imported statements, announced reconciliation mismatches

Revision ID: 0004_gse
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_gse"
down_revision: str | None = "0003_prices_parameters"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "expected_gse_payments",
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("pod", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint(
            "community_id", "period", "pod", name=op.f("pk_expected_gse_payments")
        ),
    )
    op.create_table(
        "gse_advances",
        sa.Column("gse_id", sa.String(length=80), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("pod", sa.String(length=20), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("gse_id", name=op.f("pk_gse_advances")),
    )
    op.create_index(
        "ix_gse_advances_month", "gse_advances", ["community_id", "month"], unique=False
    )
    op.create_table(
        "gse_balances",
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("carried_over_cents", sa.BigInteger(), nullable=False),
        sa.Column("pending_items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("last_run_on", sa.Date(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_gse_balances")),
    )
    op.create_table(
        "gse_credentials",
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("client_secret_sealed", sa.String(length=500), nullable=False),
        sa.Column("configuration_id", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_gse_credentials")),
    )
    op.create_table(
        "gse_imports",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gse_imports")),
    )
    op.create_table(
        "gse_plants",
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("pod", sa.String(length=20), nullable=False),
        sa.Column("gse_plant_id", sa.String(length=40), nullable=False),
        sa.Column("eligibility", sa.String(length=20), nullable=True),
        sa.Column(
            "registered_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("community_id", "pod", name=op.f("pk_gse_plants")),
    )
    op.create_table(
        "gse_results",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("gse_id", sa.String(length=60), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gse_results")),
        sa.UniqueConstraint(
            "community_id", "gse_id", "content_sha256", name=op.f("uq_gse_results_community_id")
        ),
    )
    op.create_index(
        "ix_gse_results_month", "gse_results", ["community_id", "month", "id"], unique=False
    )
    op.create_table(
        "gse_sync_jobs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.BigInteger(), nullable=False),
        sa.Column("months", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("errors", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gse_sync_jobs")),
    )
    op.create_index(
        "ix_gse_sync_jobs_community_id", "gse_sync_jobs", ["community_id", "id"], unique=False
    )
    op.create_index(
        "ix_gse_sync_jobs_queued",
        "gse_sync_jobs",
        ["id"],
        unique=False,
        postgresql_where=sa.text("status = 'QUEUED'"),
    )
    op.create_table(
        "reconciliation_alerts",
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("gse_result_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("difference_cents", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "community_id",
            "period",
            "gse_result_id",
            "run_id",
            name=op.f("pk_reconciliation_alerts"),
        ),
    )
    op.create_table(
        "gse_payments",
        sa.Column("gse_id", sa.String(length=80), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("payment_date", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"], ["transactions.id"], name=op.f("fk_gse_payments_transaction_id")
        ),
        sa.PrimaryKeyConstraint("gse_id", name=op.f("pk_gse_payments")),
    )
    op.create_index(
        "ix_gse_payments_community_id",
        "gse_payments",
        ["community_id", "payment_date"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_gse_payments_community_id", table_name="gse_payments")
    op.drop_table("gse_payments")
    op.drop_table("reconciliation_alerts")
    op.drop_index(
        "ix_gse_sync_jobs_queued",
        table_name="gse_sync_jobs",
        postgresql_where=sa.text("status = 'QUEUED'"),
    )
    op.drop_index("ix_gse_sync_jobs_community_id", table_name="gse_sync_jobs")
    op.drop_table("gse_sync_jobs")
    op.drop_index("ix_gse_results_month", table_name="gse_results")
    op.drop_table("gse_results")
    op.drop_table("gse_plants")
    op.drop_table("gse_imports")
    op.drop_table("gse_credentials")
    op.drop_table("gse_balances")
    op.drop_index("ix_gse_advances_month", table_name="gse_advances")
    op.drop_table("gse_advances")
    op.drop_table("expected_gse_payments")
