"""devices and counter_states leave room on their pages for HOT updates

The bridge rewrites a device's status columns and its registers with every
reading (thousands a second). With full pages each update moves the row to
another page and adds entries to every index; with room on the page it stays
there and touches no index (a HOT update). Existing pages get the room as
they are rewritten (VACUUM FULL); new ones have it at once.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE devices SET (fillfactor = 70)")
    op.execute("ALTER TABLE counter_states SET (fillfactor = 70)")


def downgrade() -> None:
    op.execute("ALTER TABLE devices RESET (fillfactor)")
    op.execute("ALTER TABLE counter_states RESET (fillfactor)")
