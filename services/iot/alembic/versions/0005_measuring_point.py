"""devices.measuring_point: where a meter measures (grid connection, generator, load)

The bridge passes it on with every reading, so the energy service stores a
grid-connection meter's export and import as the POD's fed-in and withdrawn
energy. Existing devices have none (the specification's message: production
and consumption).

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
    op.add_column("devices", sa.Column("measuring_point", sa.String(20), nullable=True))
    op.create_check_constraint(
        op.f("ck_devices_measuring_point"),
        "devices",
        "measuring_point IN ('grid_connection', 'generator', 'load')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_devices_measuring_point"), "devices", type_="check")
    op.drop_column("devices", "measuring_point")
