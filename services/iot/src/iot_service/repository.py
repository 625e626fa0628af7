"""Every query of the iot service."""

from __future__ import annotations

import uuid
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from cerc_shared.clock import ITALY
from sqlalchemy import Date, and_, cast, func, or_, select, text, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from iot_service.counters import RegisterState
from iot_service.models import Command, CommandAck, Device, registry


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

    async def live_of_ended_stays(
        self, today: date, plant_id: int | None = None, limit: int = 500
    ) -> list[Device]:
        """Devices not revoked whose plant stay (the one each was registered in)
        has ended by ``today``, locked, skipping rows another replica holds.
        A device from before stays were recorded belongs to the stay that
        covered its creation day."""
        periods = registry.plant_periods
        created_day = cast(func.timezone(ITALY.key, Device.created_at), Date)
        its_stay = or_(
            and_(
                Device.plant_stay_from.is_not(None),
                periods.c.valid_from == Device.plant_stay_from,
            ),
            and_(
                Device.plant_stay_from.is_(None),
                periods.c.valid_from <= created_day,
                or_(periods.c.valid_to.is_(None), periods.c.valid_to > created_day),
            ),
        )
        ended = (
            select(periods.c.plant_id)
            .where(
                periods.c.plant_id == Device.plant_id,
                its_stay,
                periods.c.valid_to.is_not(None),
                periods.c.valid_to <= today,
            )
            .exists()
        )
        query = select(Device).where(Device.revoked_at.is_(None), ended)
        if plant_id is not None:
            query = query.where(Device.plant_id == plant_id)
        rows = await self.session.scalars(
            query.order_by(Device.id).limit(limit).with_for_update(skip_locked=True)
        )
        return list(rows)

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
            # The stay the device was registered in (service.device_access):
            # its owner then, or an administrator today of that community.
            periods = registry.plant_periods
            stay_from = func.coalesce(
                Device.plant_stay_from, func.date(func.timezone("Europe/Rome", Device.created_at))
            )
            stay = (
                select(periods.c.community_id, periods.c.owner_user_id)
                .where(periods.c.plant_id == Device.plant_id, periods.c.valid_from <= stay_from)
                .order_by(periods.c.valid_from.desc())
                .limit(1)
                .lateral("stay")
            )
            administered = registry.reader(self.session).administered_communities_query(
                visible_to, day
            )
            query = query.join(stay, true()).where(
                or_(stay.c.owner_user_id == visible_to, stay.c.community_id.in_(administered))
            )
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

    async def for_bridge(self, device_ids: Iterable[str], *, lock: bool) -> dict[str, SeenDevice]:
        """What the bridge needs of these devices, its counter state included,
        as plain rows (one statement), each with the version of the row it
        was read from. Unlocked, a concurrent change is found when the bridge
        writes (:meth:`save_for_bridge`); with ``lock``, the rows are locked
        in id order (so concurrent bridges never deadlock) until the
        transaction ends, and none can change meanwhile."""
        ids = sorted(set(device_ids))
        if not ids:
            return {}
        statement = _LOCK_FOR_BRIDGE if lock else _READ_FOR_BRIDGE
        row = (await self.session.execute(statement, {"ids": ids})).one()
        if row[0] is None:
            return {}
        return {
            c[0]: SeenDevice(
                c[0],
                c[1],
                c[2],
                c[3],
                c[4],
                c[5],
                c[6],
                c[7],
                c[8],
                registers(c[9]),
                c[10],
                c[11],
                measuring_point=c[12],
            )
            for c in zip(*row, strict=True)
        }

    async def save_for_bridge(self, devices: Sequence[SeenDevice], touched: Container[str]) -> bool:
        """Write back these devices' counter state and, for those in
        ``touched``, their status, last seen, battery and signal, each only if
        its row is still the version the bridge read; False, and nothing to
        commit, if any was not (some other transaction changed it meanwhile).

        A device not in ``touched`` has nothing new but its registers and a
        later last_seen, which is not written (only when due, see
        :func:`last_seen_due`): most readings, one narrower statement."""
        registers_only = [d for d in devices if d.id not in touched]
        whole = [d for d in devices if d.id in touched]
        written = 0
        if registers_only:
            result = await self.session.execute(_SAVE_COUNTERS, _versioned(registers_only))
            written += len(result.all())
        if whole:
            result = await self.session.execute(
                _SAVE_FOR_BRIDGE,
                {
                    **_versioned(whole),
                    "statuses": [d.status for d in whole],
                    "details": [d.status_detail for d in whole],
                    "seen": [d.last_seen for d in whole],
                    "battery": [d.battery_level for d in whole],
                    "signal": [d.signal_strength for d in whole],
                },
            )
            written += len(result.all())
        return written == len(devices)

    async def count_by_community_and_status(self) -> list[tuple[int, str, int]]:
        """Live devices per community and status (for the offline-share alert)."""
        plants = registry.plants
        rows = await self.session.execute(
            select(plants.c.community_id, Device.status, func.count())
            .join(plants, plants.c.plant_id == Device.plant_id)
            .where(Device.revoked_at.is_(None))
            .group_by(plants.c.community_id, Device.status)
        )
        return [(int(c), str(s), int(n)) for c, s, n in rows.all()]

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
    # "<format>:<register>" -> its latest reading (counters.py).
    registers: dict[str, RegisterState]
    # Where the row read was (ctid) and which transaction wrote it (xmin):
    # any change to the row since, by anyone, gives it another of either.
    row: tuple[int, int]
    version: int
    # Where it measures (grid_connection, generator, load), passed on with its readings.
    measuring_point: str | None = None


def last_seen_due(stored: datetime | None, seen: datetime | None, interval_s: int) -> bool:
    """Whether ``seen`` must be written over the ``stored`` last_seen (see LAST_SEEN_SLACK)."""
    if seen is None or seen == stored:
        return False
    return stored is None or (seen - stored).total_seconds() >= interval_s * LAST_SEEN_SLACK


def registers(stored: str | None) -> dict[str, RegisterState]:
    """A device's ``counters`` column (as JSON text) as register states."""
    if stored is None:
        return {}
    fromisoformat = datetime.fromisoformat
    return {
        name: RegisterState(fromisoformat(ts), kwh)
        for name, (ts, kwh) in orjson.loads(stored).items()
    }


def _versioned(devices: Sequence[SeenDevice]) -> dict[str, list[Any]]:
    """What both of the bridge's writes take: which rows, at which version, and
    the counter state to write."""
    return {
        "ids": [d.id for d in devices],
        "rows": [d.row for d in devices],
        "versions": [d.version for d in devices],
        "counters": [_counters_json(d.registers) for d in devices],
    }


def _counters_json(states: dict[str, RegisterState]) -> str:
    # Timestamps as 2025-09-04T10:00:00+00:00, kWh as the shortest exact decimal.
    return orjson.dumps({name: [s.ts, s.kwh] for name, s in states.items()}).decode()


# Rows come back as one row of columns (arrays): a thousand devices are one
# row for the driver to decode and SQLAlchemy to wrap, not a thousand.
_READ_FOR_BRIDGE = text(
    "WITH found AS (SELECT id, plant_id, revoked_at IS NOT NULL AS revoked, status,"
    " status_detail, last_seen, battery_level, signal_strength, interval_s,"
    " counters::text AS counters, ctid, xmin, measuring_point FROM devices"
    " WHERE id = ANY(CAST(:ids AS varchar[])))"
    " SELECT array_agg(id), array_agg(plant_id), array_agg(revoked), array_agg(status),"
    " array_agg(status_detail), array_agg(last_seen), array_agg(battery_level),"
    " array_agg(signal_strength), array_agg(interval_s), array_agg(counters),"
    " array_agg(ctid), array_agg(xmin), array_agg(measuring_point) FROM found"
)
_LOCK_FOR_BRIDGE = text(
    "WITH found AS (SELECT id, plant_id, revoked_at IS NOT NULL AS revoked, status,"
    " status_detail, last_seen, battery_level, signal_strength, interval_s,"
    " counters::text AS counters, ctid, xmin, measuring_point FROM devices"
    " WHERE id = ANY(CAST(:ids AS varchar[])) ORDER BY id FOR UPDATE)"
    " SELECT array_agg(id), array_agg(plant_id), array_agg(revoked), array_agg(status),"
    " array_agg(status_detail), array_agg(last_seen), array_agg(battery_level),"
    " array_agg(signal_strength), array_agg(interval_s), array_agg(counters),"
    " array_agg(ctid), array_agg(xmin), array_agg(measuring_point) FROM found"
)
# Each row found by where it was read (a TID scan: no index to descend) and
# written only if it is still that version of that device: a row another
# transaction changed meanwhile is not there any more, or has another xmin,
# and is left out of RETURNING (one that is changing waits for that
# transaction to end, then is looked at again).
_SAVE_FOR_BRIDGE = text(
    "UPDATE devices AS d SET counters = CAST(u.counters AS jsonb),"
    " status = u.status, status_detail = u.status_detail, last_seen = u.last_seen,"
    " battery_level = u.battery_level, signal_strength = u.signal_strength, updated_at = now()"
    " FROM unnest(CAST(:ids AS varchar[]), CAST(:rows AS tid[]), CAST(:versions AS xid[]),"
    " CAST(:statuses AS varchar[]), CAST(:details AS varchar[]),"
    " CAST(:seen AS timestamptz[]), CAST(:battery AS float8[]), CAST(:signal AS float8[]),"
    " CAST(:counters AS text[]))"
    " AS u(id, at_row, version, status, status_detail, last_seen, battery_level,"
    " signal_strength, counters)"
    " WHERE d.ctid = ANY(CAST(:rows AS tid[])) AND d.ctid = u.at_row AND d.id = u.id"
    " AND d.xmin = u.version"
    " RETURNING d.id"
)
_SAVE_COUNTERS = text(
    "UPDATE devices AS d SET counters = CAST(u.counters AS jsonb)"
    " FROM unnest(CAST(:ids AS varchar[]), CAST(:rows AS tid[]), CAST(:versions AS xid[]),"
    " CAST(:counters AS text[])) AS u(id, at_row, version, counters)"
    " WHERE d.ctid = ANY(CAST(:rows AS tid[])) AND d.ctid = u.at_row AND d.id = u.id"
    " AND d.xmin = u.version"
    " RETURNING d.id"
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
