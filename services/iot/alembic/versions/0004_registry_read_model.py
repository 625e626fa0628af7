"""the registry read model becomes the kernel's (cerc_shared.readmodels)

The plants and memberships this service kept from plant.v1 and
membership.v1 take the shape every service shares: their keys are named
``plant_id`` and ``membership_id``; plants carry every published fact (NULL,
for the facts this table did not keep, until the plant's next event);
each plant's stays in a community are kept in ``plant_periods`` (one per
plant carried over: the period its row held); memberships carry the member's
and body's type (NULL until the next event); ``communities`` and
``community_shares`` keep cer.v1. Every row is carried over. The downgrade
puts the earlier shape back with the rows it held (a plant's name, if no
event brought one, becomes its POD).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

PLANT_FACTS = (
    sa.Column("plant_type", sa.String(length=20), nullable=True),
    sa.Column("nominal_power_kw", sa.Numeric(12, 3), nullable=True),
    sa.Column("technology", sa.String(length=40), nullable=True),
    sa.Column("entry_into_service", sa.Date(), nullable=True),
    sa.Column("region", sa.String(length=100), nullable=True),
    sa.Column("primary_substation", sa.String(length=50), nullable=True),
    sa.Column("market_zone", sa.String(length=10), nullable=True),
    sa.Column("capital_grant_eur_per_kw", sa.Numeric(12, 2), nullable=True),
    sa.Column("connection_voltage", sa.String(length=40), nullable=True),
)


def _updated_at() -> sa.Column[object]:
    return sa.Column(
        "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.alter_column("plants", "id", new_column_name="plant_id")
    op.alter_column("plants", "name", nullable=True)
    for column in PLANT_FACTS:
        op.add_column("plants", column.copy())
    op.alter_column("memberships", "id", new_column_name="membership_id")
    op.drop_constraint(op.f("ck_memberships_role"), "memberships", type_="check")
    op.add_column("memberships", sa.Column("member_type", sa.String(length=20), nullable=True))
    op.add_column("memberships", sa.Column("body_type", sa.String(length=40), nullable=True))
    op.add_column("memberships", _updated_at())
    op.create_table(
        "communities",
        sa.Column("community_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("market_zone", sa.String(length=10), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        _updated_at(),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_communities")),
    )
    op.create_table(
        "community_shares",
        sa.Column("community_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("producers_pct", sa.Numeric(7, 4), nullable=False),
        sa.Column("consumers_pct", sa.Numeric(7, 4), nullable=False),
        sa.Column("community_fund_pct", sa.Numeric(7, 4), nullable=False),
        sa.PrimaryKeyConstraint("community_id", "valid_from", name=op.f("pk_community_shares")),
    )
    op.create_table(
        "plant_periods",
        sa.Column("plant_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("community_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("owner_user_id", sa.BigInteger(), nullable=False),
        _updated_at(),
        sa.PrimaryKeyConstraint(
            "plant_id", "community_id", "valid_from", name=op.f("pk_plant_periods")
        ),
    )
    op.create_index(
        "ix_plant_periods_community_id", "plant_periods", ["community_id", "valid_from"]
    )
    op.execute(
        "INSERT INTO plant_periods (plant_id, community_id, valid_from, valid_to, owner_user_id)"
        " SELECT plant_id, community_id, valid_from, valid_to, owner_user_id FROM plants"
    )


def downgrade() -> None:
    op.drop_table("plant_periods")
    op.drop_table("community_shares")
    op.drop_table("communities")
    op.drop_column("memberships", "updated_at")
    op.drop_column("memberships", "body_type")
    op.drop_column("memberships", "member_type")
    op.create_check_constraint(
        op.f("ck_memberships_role"), "memberships", "role IN ('ADMIN', 'MEMBER', 'VIEWER')"
    )
    op.alter_column("memberships", "membership_id", new_column_name="id")
    for column in reversed(PLANT_FACTS):
        op.drop_column("plants", column.name)
    op.execute("UPDATE plants SET name = pod WHERE name IS NULL")
    op.alter_column("plants", "name", nullable=False)
    op.alter_column("plants", "plant_id", new_column_name="id")
