"""a device's counter state moves onto its own row (devices.counters), counter_states goes

The bridge wrote, per reading, a row lock on the device and one row per
register in counter_states (two for a meter with import and export): three
tuple writes. With the registers in one jsonb column of the device's row,
``{"<format>:<register>": ["<last timestamp>", <last kWh>], ...}``, a reading
is one write of one row, and the bridge can check that row for concurrent
changes (its version) instead of locking it first (see bridge/batch.py).

Every reading now rewrites its device's row, and a batch holds devices
whose rows sit side by side (a fleet's devices report in turn): at
fillfactor 50 a page has room for a new version of each of its rows in the
same transaction, so the updates stay HOT (no index entries); at 70, a third
of them moved to another page. Existing pages get the room as they are
rewritten (VACUUM FULL); new ones have it at once.

Every existing register state is carried over (its timestamp in UTC, its kWh
as stored); a state whose device row is gone would belong to no device and is
not kept. The downgrade puts them back into counter_states.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("devices", sa.Column("counters", postgresql.JSONB(), nullable=True))
    # Timestamps into JSON as 2025-09-04T10:00:00+00:00 whatever the server's zone.
    op.execute("SET LOCAL TimeZone = 'UTC'")
    op.execute(
        "UPDATE devices AS d SET counters = c.registers"
        " FROM (SELECT device_id,"
        " jsonb_object_agg(register, jsonb_build_array(last_ts, last_kwh)) AS registers"
        " FROM counter_states GROUP BY device_id) AS c"
        " WHERE d.id = c.device_id"
    )
    op.drop_table("counter_states")
    op.execute("ALTER TABLE devices SET (fillfactor = 50)")


def downgrade() -> None:
    op.create_table(
        "counter_states",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("register", sa.String(length=80), nullable=False),
        sa.Column("last_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_kwh", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "register", name=op.f("pk_counter_states")),
        postgresql_with={"fillfactor": 70},
    )
    op.execute(
        "INSERT INTO counter_states (device_id, register, last_ts, last_kwh)"
        " SELECT d.id, r.key, (r.value->>0)::timestamptz, (r.value->>1)::float8"
        " FROM devices AS d, jsonb_each(d.counters) AS r WHERE d.counters IS NOT NULL"
    )
    op.drop_column("devices", "counters")
    op.execute("ALTER TABLE devices SET (fillfactor = 70)")
