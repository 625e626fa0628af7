"""a community's registry version, moved by the database on every change

Every write to a community's row, shares, memberships, plants or plant periods
gives the community a new ``registry_version`` drawn from a sequence, in the
writing transaction. Readers compare it to cached answers (read_cache.py): an
answer cached under a version is the registry as of that version or later.
A sequence, not a counter, because a rolled-back transaction's number is never
handed out again, so no two states of a community ever share a version.
Triggers, not service code, so that no write path can forget.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

CHILD_TABLES = ("distribution_shares", "memberships", "plants", "plant_periods")


def upgrade() -> None:
    op.execute("CREATE SEQUENCE registry_versions")
    op.add_column(
        "communities",
        sa.Column(
            "registry_version",
            sa.BigInteger(),
            server_default=sa.text("nextval('registry_versions')"),
            nullable=False,
        ),
    )
    op.execute(
        """
        CREATE FUNCTION community_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.registry_version IS NOT DISTINCT FROM OLD.registry_version THEN
                NEW.registry_version := nextval('registry_versions');
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER community_row_changed BEFORE UPDATE ON communities
        FOR EACH ROW EXECUTE FUNCTION community_row_changed()
        """
    )
    # A plant moving between communities changes both registries.
    op.execute(
        """
        CREATE FUNCTION registry_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' AND OLD.community_id IS NOT NULL THEN
                UPDATE communities SET registry_version = nextval('registry_versions')
                WHERE id = OLD.community_id;
            END IF;
            IF TG_OP <> 'DELETE' AND NEW.community_id IS NOT NULL
               AND (TG_OP = 'INSERT' OR NEW.community_id IS DISTINCT FROM OLD.community_id) THEN
                UPDATE communities SET registry_version = nextval('registry_versions')
                WHERE id = NEW.community_id;
            END IF;
            RETURN NULL;
        END $$
        """
    )
    for table in CHILD_TABLES:
        op.execute(
            f"""
            CREATE TRIGGER {table}_registry_changed
            AFTER INSERT OR UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION registry_changed()
            """
        )


def downgrade() -> None:
    for table in CHILD_TABLES:
        op.execute(f"DROP TRIGGER {table}_registry_changed ON {table}")
    op.execute("DROP FUNCTION registry_changed()")
    op.execute("DROP TRIGGER community_row_changed ON communities")
    op.execute("DROP FUNCTION community_row_changed()")
    op.drop_column("communities", "registry_version")
    op.execute("DROP SEQUENCE registry_versions")
