"""meter_imports and meter_import_curves: the history of distributor meter files

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meter_imports",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_by", sa.BigInteger(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("values_total", sa.Integer(), nullable=False),
        sa.Column("values_written", sa.Integer(), nullable=False),
        sa.Column("warnings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_imports")),
        sa.UniqueConstraint(
            "community_id", "content_sha256", name=op.f("uq_meter_imports_community_id")
        ),
    )
    op.create_table(
        "meter_import_curves",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("import_id", sa.BigInteger(), nullable=False),
        sa.Column("file_name", sa.String(length=500), nullable=False),
        sa.Column("pod", sa.String(length=20), nullable=False),
        sa.Column("plant_id", sa.BigInteger(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("values_count", sa.Integer(), nullable=False),
        sa.Column("total_kwh", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("values_sha256", sa.String(length=64), nullable=False),
        sa.Column("estimated_days", postgresql.ARRAY(sa.Date()), nullable=False),
        sa.Column("first_interval_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_interval_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["meter_imports.id"],
            name=op.f("fk_meter_import_curves_import_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_import_curves")),
    )
    op.create_index(
        "ix_meter_import_curves_plant_id",
        "meter_import_curves",
        ["plant_id", "direction", "month"],
        unique=False,
    )
    op.create_index(
        "ix_meter_import_curves_import_id", "meter_import_curves", ["import_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_meter_import_curves_import_id", table_name="meter_import_curves")
    op.drop_index("ix_meter_import_curves_plant_id", table_name="meter_import_curves")
    op.drop_table("meter_import_curves")
    op.drop_table("meter_imports")
