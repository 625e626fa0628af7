"""Every query of the iot service."""

from __future__ import annotations

import uuid
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from iot_service.models import Command, CommandAck, Device, Membership, Plant


class PlantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, plant_id: int) -> Plant | None:
        return await self.session.get(Plant, plant_id)

    async def upsert(self, **values: object) -> None:
        statement = insert(Plant).values(**values)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[Plant.id],
                set_={k: statement.excluded[k] for k in values if k != "id"}
                | {"updated_at": func.now()},
            )
        )


class MembershipRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, **values: object) -> None:
        statement = insert(Membership).values(**values)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[Membership.id],
                set_={k: statement.excluded[k] for k in values if k != "id"},
            )
        )

    @staticmethod
    def admin_communities(user_id: int, day: date) -> Select[int]:
        return select(Membership.community_id).where(
            Membership.user_id == user_id,
            Membership.role == "ADMIN",
            Membership.valid_from <= day,
            or_(Membership.valid_to.is_(None), Membership.valid_to > day),
        )

    async def is_admin_of(self, user_id: int, community_id: int, day: date) -> bool:
        query = self.admin_communities(user_id, day).where(Membership.community_id == community_id)
        return await self.session.scalar(query.limit(1)) is not None


class DeviceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, device_id: str) -> Device | None:
        return await self.session.get(Device, device_id)

    async def get_for_update(self, device_id: str) -> Device | None:
        return await self.session.scalar(
            select(Device).where(Device.id == device_id).with_for_update()
        )

    async def exists(self, device_id: str) -> bool:
        return (
            await self.session.scalar(select(Device.id).where(Device.id == device_id)) is not None
        )

    async def add(self, device: Device) -> Device:
        self.session.add(device)
        await self.session.flush()
        return device

    async def page(
        self,
        *,
        visible_to: int | None,
        day: date,
        page: int,
        per_page: int,
        plant_id: int | None,
        status: str | None,
        include_revoked: bool,
    ) -> tuple[list[Device], int]:
        query = select(Device)
        if visible_to is not None:
            query = query.join(Plant, Plant.id == Device.plant_id).where(_visible(visible_to, day))
        if plant_id is not None:
            query = query.where(Device.plant_id == plant_id)
        if status is not None:
            query = query.where(Device.status == status)
        if not include_revoked:
            query = query.where(Device.revoked_at.is_(None))
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(
            query.order_by(Device.plant_id, Device.id).offset((page - 1) * per_page).limit(per_page)
        )
        return list(rows), int(total or 0)

    async def lock_for_bridge(self, device_ids: Iterable[str]) -> dict[str, SeenDevice]:
        """What the bridge needs of these devices, locked in id order (so
        concurrent bridges never deadlock), as plain rows: one statement."""
        ids = sorted(set(device_ids))
        if not ids:
            return {}
        row = (await self.session.execute(_LOCK_FOR_BRIDGE, {"ids": ids})).one()
        if row[0] is None:
            return {}
        return {c[0]: SeenDevice(*c) for c in zip(*row, strict=True)}

    async def save_seen(self, devices: Sequence[SeenDevice]) -> None:
        """Write back status, last seen, battery and signal of these devices: one statement.

        The bridge leaves out a device whose only news is a later ``last_seen``
        until the stored one is ``LAST_SEEN_SLACK`` of its interval old (see
        :func:`last_seen_due`)."""
        if not devices:
            return
        await self.session.execute(
            _SAVE_SEEN,
            {
                "ids": [d.id for d in devices],
                "statuses": [d.status for d in devices],
                "details": [d.status_detail for d in devices],
                "seen": [d.last_seen for d in devices],
                "battery": [d.battery_level for d in devices],
                "signal": [d.signal_strength for d in devices],
            },
        )

    async def lock_silent(self, now: datetime, after_intervals: int, limit: int) -> list[Device]:
        """Live devices silent for ``after_intervals`` of their intervals; replicas skip
        each other's rows."""
        # The stored last_seen may be up to LAST_SEEN_SLACK of an interval
        # behind the device's last message (the bridge writes it no more often):
        # wait that much longer, so a device is never called silent early.
        deadline = Device.last_seen + func.make_interval(
            0, 0, 0, 0, 0, 0, Device.interval_s * (after_intervals + LAST_SEEN_SLACK)
        )
        rows = await self.session.scalars(
            select(Device)
            .where(
                Device.revoked_at.is_(None),
                Device.status != "OFFLINE",
                or_(Device.last_seen.is_(None), deadline < now),
            )
            .order_by(Device.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows)


# A device's stored last_seen is rewritten only once it is this fraction of
# the device's interval old (unless something else about the device changed):
# a device reporting more often than its interval then costs one row update
# per quarter interval instead of one per message. The OFFLINE detector, which
# judges silence in whole intervals, allows for the lag.
LAST_SEEN_SLACK = 0.25


@dataclass(slots=True)
class SeenDevice:
    """The columns of a device the bridge reads and updates."""

    id: str
    plant_id: int
    revoked: bool
    status: str
    status_detail: str | None
    last_seen: datetime | None
    battery_level: float | None
    signal_strength: float | None
    interval_s: int


def last_seen_due(stored: datetime | None, seen: datetime | None, interval_s: int) -> bool:
    """Whether ``seen`` must be written over the ``stored`` last_seen (see LAST_SEEN_SLACK)."""
    if seen is None or seen == stored:
        return False
    return stored is None or (seen - stored).total_seconds() >= interval_s * LAST_SEEN_SLACK


# Rows come back as one row of columns (arrays): a thousand devices are one
# row for the driver to decode and SQLAlchemy to wrap, not a thousand.
_LOCK_FOR_BRIDGE = text(
    "WITH locked AS (SELECT id, plant_id, revoked_at IS NOT NULL AS revoked, status,"
    " status_detail, last_seen, battery_level, signal_strength, interval_s"
    " FROM devices WHERE id = ANY(CAST(:ids AS varchar[])) ORDER BY id FOR UPDATE)"
    " SELECT array_agg(id), array_agg(plant_id), array_agg(revoked), array_agg(status),"
    " array_agg(status_detail), array_agg(last_seen), array_agg(battery_level),"
    " array_agg(signal_strength), array_agg(interval_s) FROM locked"
)
_SAVE_SEEN = text(
    "UPDATE devices AS d SET status = u.status, status_detail = u.status_detail,"
    " last_seen = u.last_seen, battery_level = u.battery_level,"
    " signal_strength = u.signal_strength, updated_at = now()"
    " FROM unnest(CAST(:ids AS varchar[]), CAST(:statuses AS varchar[]),"
    " CAST(:details AS varchar[]), CAST(:seen AS timestamptz[]),"
    " CAST(:battery AS float8[]), CAST(:signal AS float8[]))"
    " AS u(id, status, status_detail, last_seen, battery_level, signal_strength)"
    " WHERE d.id = u.id"
)


def _visible(user_id: int, day: date) -> ColumnElement[bool]:
    return or_(
        Plant.owner_user_id == user_id,
        Plant.community_id.in_(MembershipRepository.admin_communities(user_id, day)),
    )


class CommandRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, command: Command) -> Command:
        self.session.add(command)
        await self.session.flush()
        return command

    async def get(self, device_id: str, command_id: uuid.UUID) -> Command | None:
        return await self.session.scalar(
            select(Command).where(Command.id == command_id, Command.device_id == device_id)
        )

    async def for_device(self, device_id: str, limit: int) -> list[Command]:
        rows = await self.session.scalars(
            select(Command)
            .where(Command.device_id == device_id)
            .order_by(Command.sent_at.desc())
            .limit(limit)
        )
        return list(rows)

    async def acks(self, command_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, CommandAck]:
        ids = list(command_ids)
        if not ids:
            return {}
        rows = await self.session.scalars(select(CommandAck).where(CommandAck.command_id.in_(ids)))
        return {a.command_id: a for a in rows}

    async def record_ack(
        self, command_id: uuid.UUID, device_id: str, result: str, detail: str | None, at: datetime
    ) -> None:
        # The first acknowledgement wins; a redelivered one changes nothing.
        await self.session.execute(
            insert(CommandAck)
            .values(
                command_id=command_id,
                device_id=device_id,
                result=result,
                detail=detail,
                received_at=at,
            )
            .on_conflict_do_nothing()
        )


class CounterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_devices(
        self, device_ids: Iterable[str]
    ) -> dict[tuple[str, str], tuple[datetime, float]]:
        """(device, register) -> (last timestamp, last kWh)."""
        ids = list(set(device_ids))
        if not ids:
            return {}
        devices, registers, ts, kwh = (await self.session.execute(_COUNTERS_OF, {"ids": ids})).one()
        if devices is None:
            return {}
        return {(d, r): (t, k) for d, r, t, k in zip(devices, registers, ts, kwh, strict=True)}

    async def save(
        self,
        states: Iterable[tuple[str, str, datetime, float]],
        existing: Container[tuple[str, str]],
    ) -> None:
        """Write these registers' states; ``existing`` are the (device, register)
        pairs that already have a row (read under the device's lock), which are
        updated in place: an upsert would lock each row before updating it, a
        second write per register per reading."""
        updates: list[tuple[str, str, datetime, float]] = []
        inserts: list[tuple[str, str, datetime, float]] = []
        for row in states:
            (updates if (row[0], row[1]) in existing else inserts).append(row)
        for statement, rows in ((_UPDATE_COUNTERS, updates), (_INSERT_COUNTERS, inserts)):
            if rows:
                await self.session.execute(
                    statement,
                    {
                        "devices": [r[0] for r in rows],
                        "registers": [r[1] for r in rows],
                        "ts": [r[2] for r in rows],
                        "kwh": [r[3] for r in rows],
                    },
                )


_COUNTERS_OF = text(
    "SELECT array_agg(device_id), array_agg(register), array_agg(last_ts), array_agg(last_kwh)"
    " FROM counter_states WHERE device_id = ANY(CAST(:ids AS varchar[]))"
)
# Never move a register backwards in time, whoever wrote last.
_UPDATE_COUNTERS = text(
    "UPDATE counter_states AS c SET last_ts = u.last_ts, last_kwh = u.last_kwh"
    " FROM unnest(CAST(:devices AS varchar[]), CAST(:registers AS varchar[]),"
    " CAST(:ts AS timestamptz[]), CAST(:kwh AS float8[]))"
    " AS u(device_id, register, last_ts, last_kwh)"
    " WHERE c.device_id = u.device_id AND c.register = u.register AND c.last_ts < u.last_ts"
)
_INSERT_COUNTERS = text(
    "INSERT INTO counter_states AS c (device_id, register, last_ts, last_kwh)"
    " SELECT * FROM unnest(CAST(:devices AS varchar[]), CAST(:registers AS varchar[]),"
    " CAST(:ts AS timestamptz[]), CAST(:kwh AS float8[]))"
    " ON CONFLICT (device_id, register) DO UPDATE"
    " SET last_ts = EXCLUDED.last_ts, last_kwh = EXCLUDED.last_kwh"
    " WHERE c.last_ts < EXCLUDED.last_ts"
)
