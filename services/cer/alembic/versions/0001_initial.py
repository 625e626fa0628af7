"""communities, shares, memberships, plants, periods, users read model, audit, outbox

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("entity_type", sa.String(length=30), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("correlation_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_community_id", "audit_log", ["community_id", "id"], unique=False)
    op.create_table(
        "communities",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("market_zone", sa.String(length=4), nullable=False),
        sa.Column("logo", sa.String(length=300), nullable=True),
        sa.Column("statute_document", sa.String(length=300), nullable=True),
        sa.Column("regulation_document", sa.String(length=300), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "market_zone IN ('NORD', 'CNOR', 'CSUD', 'SUD', 'CALA', 'SICI', 'SARD')",
            name=op.f("ck_communities_market_zone"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communities")),
        sa.UniqueConstraint("code", name=op.f("uq_communities_code")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("envelope", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("consumer", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id", "consumer", name=op.f("pk_processed_events")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("first_name", sa.String(length=150), nullable=False),
        sa.Column("last_name", sa.String(length=150), nullable=False),
        sa.Column("user_type", sa.String(length=20), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("erased", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index("ix_users_email", "users", ["email"], unique=False)
    op.create_index(
        "ix_users_username_lower", "users", [sa.literal_column("lower(username)")], unique=False
    )
    op.create_table(
        "distribution_shares",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("producers_pct", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("consumers_pct", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("community_fund_pct", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "producers_pct + consumers_pct + community_fund_pct = 100",
            name=op.f("ck_distribution_shares_sum_100"),
        ),
        sa.CheckConstraint(
            "producers_pct >= 0 AND consumers_pct >= 0 AND community_fund_pct >= 0",
            name=op.f("ck_distribution_shares_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_distribution_shares_community_id"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_distribution_shares")),
        sa.UniqueConstraint("community_id", "valid_from", name="uq_distribution_shares_period"),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("member_type", sa.String(length=12), nullable=False),
        sa.Column("body_type", sa.String(length=20), nullable=False),
        sa.Column("tax_code_sealed", sa.String(length=300), nullable=True),
        sa.Column("vat_number_sealed", sa.String(length=300), nullable=True),
        sa.Column("iban_sealed", sa.String(length=300), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "body_type IN ('NONE', 'LOCAL_AUTHORITY', 'PUBLIC_BODY', 'RELIGIOUS', "
            "'THIRD_SECTOR', 'ENVIRONMENTAL')",
            name=op.f("ck_memberships_body_type"),
        ),
        sa.CheckConstraint(
            "member_type IN ('PRIVATE', 'ENTERPRISE')", name=op.f("ck_memberships_member_type")
        ),
        sa.CheckConstraint(
            "role IN ('ADMIN', 'MEMBER', 'VIEWER')", name=op.f("ck_memberships_role")
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_memberships_period")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_memberships_community_id"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"], unique=False)
    op.create_index(
        "uq_memberships_open",
        "memberships",
        ["community_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_table(
        "plants",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("pod", sa.String(length=20), nullable=False),
        sa.Column("plant_type", sa.String(length=10), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=True),
        sa.Column("owner_user_id", sa.BigInteger(), nullable=False),
        sa.Column("nominal_power_kw", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("technology", sa.String(length=10), nullable=True),
        sa.Column("entry_into_service", sa.Date(), nullable=True),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=30), nullable=False),
        sa.Column("zip_code", sa.String(length=5), nullable=False),
        sa.Column("latitude", sa.Numeric(precision=10, scale=8), nullable=True),
        sa.Column("longitude", sa.Numeric(precision=11, scale=8), nullable=True),
        sa.Column("primary_substation", sa.String(length=20), nullable=False),
        sa.Column("market_zone", sa.String(length=4), nullable=False),
        sa.Column("capital_grant_eur_per_kw", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("connection_voltage", sa.String(length=2), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "market_zone IN ('NORD', 'CNOR', 'CSUD', 'SUD', 'CALA', 'SICI', 'SARD')",
            name=op.f("ck_plants_market_zone"),
        ),
        sa.CheckConstraint(
            "plant_type IN ('CONSUMER', 'PRODUCER', 'PROSUMER')", name=op.f("ck_plants_plant_type")
        ),
        sa.CheckConstraint(
            "region IN ('Abruzzo', 'Basilicata', 'Calabria', 'Campania', 'Emilia-Romagna', "
            "'Friuli-Venezia Giulia', 'Lazio', 'Liguria', 'Lombardia', 'Marche', 'Molise', "
            "'Piemonte', 'Puglia', 'Sardegna', 'Sicilia', 'Toscana', 'Trentino-Alto Adige', "
            "'Umbria', 'Valle d''Aosta', 'Veneto')",
            name=op.f("ck_plants_region"),
        ),
        sa.CheckConstraint("capital_grant_eur_per_kw >= 0", name=op.f("ck_plants_capital_grant")),
        sa.CheckConstraint("nominal_power_kw > 0", name=op.f("ck_plants_nominal_power")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_plants_community_id"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plants")),
        sa.UniqueConstraint("pod", name=op.f("uq_plants_pod")),
    )
    op.create_index(
        "ix_plants_community_substation",
        "plants",
        ["community_id", "primary_substation", "id"],
        unique=False,
    )
    op.create_index(
        "ix_plants_community_type", "plants", ["community_id", "plant_type", "id"], unique=False
    )
    op.create_index("ix_plants_owner_user_id", "plants", ["owner_user_id"], unique=False)
    op.create_table(
        "plant_periods",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("plant_id", sa.BigInteger(), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_plant_periods_period")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_plant_periods_community_id"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["plant_id"], ["plants.id"], name=op.f("fk_plant_periods_plant_id"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plant_periods")),
    )
    op.create_index(
        "ix_plant_periods_community_id", "plant_periods", ["community_id"], unique=False
    )
    op.create_index(
        "ix_plant_periods_plant_id", "plant_periods", ["plant_id", "valid_from"], unique=False
    )
    # The audit trail is append-only: the service's own role cannot rewrite it.
    op.execute(
        """
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_index("ix_plant_periods_plant_id", table_name="plant_periods")
    op.drop_index("ix_plant_periods_community_id", table_name="plant_periods")
    op.drop_table("plant_periods")
    op.drop_index("ix_plants_owner_user_id", table_name="plants")
    op.drop_index("ix_plants_community_type", table_name="plants")
    op.drop_index("ix_plants_community_substation", table_name="plants")
    op.drop_table("plants")
    op.drop_index(
        "uq_memberships_open",
        table_name="memberships",
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.drop_index("ix_memberships_user_id", table_name="memberships")
    op.drop_table("memberships")
    op.drop_table("distribution_shares")
    op.drop_index("ix_users_username_lower", table_name="users")
    op.drop_index("ix_users_email", table_name="users")
    op.drop_table("users")
    op.drop_table("processed_events")
    op.drop_index(
        "ix_outbox_pending", table_name="outbox", postgresql_where=sa.text("published_at IS NULL")
    )
    op.drop_table("outbox")
    op.drop_table("communities")
    op.drop_index("ix_audit_log_community_id", table_name="audit_log")
    op.drop_table("audit_log")
