"""a community's registry change is announced to the readers (NOTIFY cer_registry)

Every change that moves a community's ``registry_version`` (its row, or, via
the 0003 triggers, its shares, memberships, plants and plant periods) also
sends the notification ``cer_registry`` with the community's id as payload.
PostgreSQL delivers it when the writing transaction commits, and never if it
rolls back; several changes to one community in a transaction arrive as one.
Each CER process listens for it to forget what it remembered of that
community's registry (registry_watch.py).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def _community_row_changed(announce: bool) -> str:
    notify = "PERFORM pg_notify('cer_registry', NEW.id::text);" if announce else ""
    return f"""
        CREATE OR REPLACE FUNCTION community_row_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.registry_version IS NOT DISTINCT FROM OLD.registry_version THEN
                NEW.registry_version := nextval('registry_versions');
            END IF;
            {notify}
            RETURN NEW;
        END $$
    """


def upgrade() -> None:
    op.execute(_community_row_changed(announce=True))


def downgrade() -> None:
    op.execute(_community_row_changed(announce=False))
