"""market prices as imported, hourly zonal prices with their corrections, dated rule
parameters, the hours of each run

Revision ID: 0003_prices_parameters
Revises: 0001

The TRASe-by-year table of 0001 becomes one row kind of ``rule_parameters`` (name
``trase_eur_mwh``), which also holds the grant reduction's cost caps; nothing wrote to it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_prices_parameters"
down_revision: str | None = "0002_payouts"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "price_imports",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("imported_by", sa.BigInteger(), nullable=False),
        sa.Column(
            "imported_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("market_prices", sa.Integer(), nullable=False),
        sa.Column("hourly_added", sa.Integer(), nullable=False),
        sa.Column("hourly_superseded", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_imports")),
        sa.UniqueConstraint("sha256", name=op.f("uq_price_imports_sha256")),
    )  # fmt: skip
    op.create_table(
        "market_prices",
        sa.Column("zone", sa.String(length=10), nullable=False),
        sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("eur_mwh", sa.Numeric(precision=12, scale=6), nullable=False),
        sa.Column("import_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"], ["price_imports.id"], name=op.f("fk_market_prices_import_id")
        ),
        sa.PrimaryKeyConstraint("zone", "start_utc", "minutes", name=op.f("pk_market_prices")),
    )
    op.add_column("zonal_prices", sa.Column("import_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_zonal_prices_import_id"), "zonal_prices", "price_imports", ["import_id"], ["id"]
    )
    op.create_table(
        "price_revisions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("zone", sa.String(length=10), nullable=False),
        sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("old_eur_mwh", sa.Numeric(precision=12, scale=6), nullable=False),
        sa.Column("new_eur_mwh", sa.Numeric(precision=12, scale=6), nullable=False),
        sa.Column("old_import_id", sa.BigInteger(), nullable=True),
        sa.Column("import_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"], ["price_imports.id"], name=op.f("fk_price_revisions_import_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_revisions")),
    )
    op.create_index("ix_price_revisions_zone", "price_revisions", ["zone", "start_utc"])
    op.create_table(
        "rule_parameters",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("key", sa.String(length=20), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("value", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("set_by", sa.BigInteger(), nullable=False),
        sa.Column(
            "set_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("name", "key", "valid_from", name=op.f("pk_rule_parameters")),
    )
    op.drop_table("trase_rates")
    op.create_table(
        "settlement_hours",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("substation", sa.String(length=40), nullable=False),
        sa.Column("hour_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fed_in_wh", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn_wh", sa.BigInteger(), nullable=False),
        sa.Column("shared_wh", sa.BigInteger(), nullable=False),
        sa.Column("incentivised_wh", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["settlement_runs.id"], name=op.f("fk_settlement_hours_run_id")
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "substation", "hour_utc", name=op.f("pk_settlement_hours")
        ),
    )


def downgrade() -> None:
    op.drop_table("settlement_hours")
    op.create_table(
        "trase_rates",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("eur_mwh", sa.Numeric(precision=10, scale=4), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_trase_rates")),
    )  # fmt: skip
    op.drop_table("rule_parameters")
    op.drop_index("ix_price_revisions_zone", table_name="price_revisions")
    op.drop_table("price_revisions")
    op.drop_constraint(op.f("fk_zonal_prices_import_id"), "zonal_prices", type_="foreignkey")
    op.drop_column("zonal_prices", "import_id")
    op.drop_table("market_prices")
    op.drop_table("price_imports")
