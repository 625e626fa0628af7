"""devices.plant_stay_from: the plant's stay a device was registered in; status REVOKED

Access to a device follows the plant's stays (issue 12, item 1): the owner of
that stay and the administrators of its community read it, and manage it only
while the stay is current. The day the stay began names it; devices
registered before this column take the stay that covered their registration
day (service.device_access). A revoked device's status is REVOKED (its
credentials are gone from the broker and the bridge refuses it), also for those
revoked before.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("devices", sa.Column("plant_stay_from", sa.Date(), nullable=True))
    op.drop_constraint(op.f("ck_devices_status"), "devices", type_="check")
    op.execute("UPDATE devices SET status = 'REVOKED' WHERE revoked_at IS NOT NULL")
    op.create_check_constraint(
        op.f("ck_devices_status"), "devices", "status IN ('ONLINE', 'OFFLINE', 'ERROR', 'REVOKED')"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_devices_status"), "devices", type_="check")
    op.execute("UPDATE devices SET status = 'OFFLINE' WHERE status = 'REVOKED'")
    op.create_check_constraint(
        op.f("ck_devices_status"), "devices", "status IN ('ONLINE', 'OFFLINE', 'ERROR')"
    )
    op.drop_column("devices", "plant_stay_from")
