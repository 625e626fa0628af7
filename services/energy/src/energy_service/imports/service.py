"""Loading a distributor file: validate it whole, check it against the
registry, then write its values as ``official`` points and record it.

* Nothing is written while anything is wrong: a malformed cell, a POD the
  community does not have, the same POD-month twice in one upload.
* Days outside a plant's period in the community are reported (warnings) and
  not written: the values are not the community's to settle.
* The same file again (same bytes, same community) changes nothing and answers
  with the earlier import. A curve equal to the current one is not written
  again either.
* A corrected file writes over the same points (plant, ``distributor``,
  ``official``, instant: the store keeps one point per identity) and its
  curve supersedes the earlier one, which stays in the history with its file.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from cerc_shared.auth import Principal
from cerc_shared.clock import ITALY
from cerc_shared.envelope import ApiError, ErrorItem
from cerc_shared.readmodels import PlantStay
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from energy_service.imports.formats import Curve, Direction, RowError, parse_file
from energy_service.imports.models import MeterImport, MeterImportCurve
from energy_service.imports.repository import ImportRepository
from energy_service.models import registry
from energy_service.service import require_community_manager
from energy_service.timeseries import EnergyPoint, TimeSeriesStore

log = logging.getLogger(__name__)

DEVICE_ID = "distributor"
SOURCE = "official"
FIELD: dict[str, str] = {"fed_in": "energy_fed_in_kwh", "withdrawn": "energy_withdrawn_kwh"}
WRITE_CHUNK = 20_000

# Told (values written, values to write) after validation and after each chunk.
Progress = Callable[[int, int], Awaitable[None]]


@dataclass
class ImportResult:
    record: MeterImport
    curves: list[MeterImportCurve]
    unchanged: bool
    # ids of the curves written by this import (the others equalled the current ones)
    written: set[int] = field(default_factory=set)


def _rejection(errors: Sequence[RowError]) -> ApiError:
    error = ApiError(422, "invalid_file", "the file was not loaded: nothing was written")
    error.errors = [
        ErrorItem(
            code="invalid_file",
            message=(
                f"{e.file}"
                + (f", line {e.line}" if e.line is not None else "")
                + (f", column {e.column}" if e.column else "")
                + f": {e.message}"
            ),
            field=":".join(str(p) for p in (e.file, e.line, e.column) if p is not None),
            expected=e.expected,
        )
        for e in errors
    ]
    return error


def _values_sha256(curve: Curve, plant_values: Sequence[tuple[Any, Any]]) -> str:
    digest = hashlib.sha256(f"{curve.pod}|{curve.direction}".encode())
    for end, value in plant_values:
        digest.update(f"{end.isoformat()}={value.normalize()}\n".encode())
    return digest.hexdigest()


def _covering(stays: Sequence[PlantStay], day: date) -> PlantStay | None:
    for stay in stays:
        if stay.active_on(day):
            return stay
    return None


async def import_file(
    session: AsyncSession,
    store: TimeSeriesStore,
    principal: Principal,
    *,
    community_id: int,
    name: str,
    data: bytes,
    pod: str | None,
    direction: Direction | None,
    progress: Progress | None = None,
) -> ImportResult:
    await require_community_manager(session, principal, community_id)
    repo = ImportRepository(session)
    sha256 = hashlib.sha256(data).hexdigest()
    earlier = await repo.by_content(community_id, sha256)
    if earlier is not None:
        return ImportResult(earlier, await repo.curves_of(earlier.id), unchanged=True)

    parsed = await run_in_threadpool(parse_file, name, data, pod, direction)
    if parsed.errors:
        raise _rejection(parsed.errors)

    errors: list[RowError] = []
    seen: dict[tuple[str, str, date], str] = {}
    for curve in parsed.curves:
        key = (curve.pod, curve.direction, curve.month)
        if key in seen:
            errors.append(
                RowError(
                    curve.file, None, None, "each POD, direction and month once per upload",
                    f"{curve.pod} {curve.direction} {curve.month:%m/%Y} also in {seen[key]}",
                )
            )  # fmt: skip
        seen[key] = curve.file
    # Every stay in the community of a plant with one of these PODs.
    registered = await registry.reader(session).plant_stays(
        community_id, between=None, pods=sorted({c.pod for c in parsed.curves})
    )
    by_pod: dict[str, list[PlantStay]] = {}
    for plant in registered:
        by_pod.setdefault(plant.pod, []).append(plant)
    for curve in parsed.curves:
        if curve.pod not in by_pod:
            errors.append(
                RowError(
                    curve.file, None, "Pod", "a POD of a plant of this community",
                    f"{curve.pod} is not registered in community {community_id}",
                )
            )  # fmt: skip
    if errors:
        raise _rejection(errors)

    warnings: list[dict[str, Any]] = []
    # (curve, plant) -> its values, split by the plant period each day falls in.
    pieces: list[tuple[Curve, PlantStay, list[Any]]] = []
    for curve in parsed.curves:
        split: dict[int, tuple[PlantStay, list[Any]]] = {}
        outside: set[date] = set()
        for end, value in curve.values:
            day = (end - timedelta(minutes=15)).astimezone(ITALY).date()
            covering = _covering(by_pod[curve.pod], day)
            if covering is None:
                outside.add(day)
                continue
            split.setdefault(covering.plant_id, (covering, []))[1].append((end, value))
        if outside:
            warnings.append(
                {
                    "file": curve.file,
                    "pod": curve.pod,
                    "code": "outside_period",
                    "message": "days outside the plant's period in the community, not loaded",
                    "days": [d.isoformat() for d in sorted(outside)],
                }
            )
        pieces += [(curve, plant, values) for plant, values in split.values()]

    def stays_of(plant: PlantStay) -> list[PlantStay]:
        """The plant's stays in the community (a day of any of them is its to settle)."""
        return [stay for stay in registered if stay.plant_id == plant.plant_id]

    current = await repo.current_curves(sorted({p.plant_id for _, p, _ in pieces}))
    rows: list[MeterImportCurve] = []
    to_write: list[EnergyPoint] = []
    superseded: list[int] = []
    written_rows: list[MeterImportCurve] = []
    for curve, plant, values in pieces:
        values_sha = _values_sha256(curve, values)
        earlier_curve = current.get((plant.plant_id, curve.direction, curve.month))
        row = MeterImportCurve(
            file_name=curve.file,
            pod=curve.pod,
            plant_id=plant.plant_id,
            direction=curve.direction,
            month=curve.month,
            values_count=len(values),
            total_kwh=sum((v for _, v in values), start=Decimal(0)),
            values_sha256=values_sha,
            estimated_days=sorted(d for d in curve.estimated_days if _covering(stays_of(plant), d)),
            first_interval_end=values[0][0],
            last_interval_end=values[-1][0],
        )
        if earlier_curve is not None and earlier_curve.values_sha256 == values_sha:
            # The same values are already the current ones: record, do not write.
            row.superseded_by = earlier_curve.import_id
            rows.append(row)
            continue
        if earlier_curve is not None:
            superseded.append(earlier_curve.id)
        rows.append(row)
        written_rows.append(row)
        name_of_field = FIELD[curve.direction]
        to_write += [
            EnergyPoint(plant.plant_id, DEVICE_ID, SOURCE, end, {name_of_field: float(value)})
            for end, value in values
        ]

    record = MeterImport(
        community_id=community_id,
        uploaded_by=principal.user_id,
        file_name=name[:255],
        content_sha256=sha256,
        content=data,
        values_total=sum(len(c.values) for c in parsed.curves),
        values_written=len(to_write),
        warnings=warnings,
    )
    await repo.add(record, rows)
    await repo.supersede(superseded, record.id)
    await write_points(store, to_write, record.id, progress)
    return ImportResult(record, rows, unchanged=False, written={r.id for r in written_rows})


async def write_points(
    store: TimeSeriesStore,
    to_write: Sequence[EnergyPoint],
    import_id: int,
    progress: Progress | None = None,
) -> None:
    """The official values into the raw series (those InfluxDB still keeps: months past the raw
    retention would be refused) and into the long-kept quarter hours, which is what is read
    once the raw readings have expired (item 8)."""
    kept_after = store.raw_kept_after()
    raw = to_write if kept_after is None else [p for p in to_write if p.timestamp > kept_after]
    for start in range(0, len(to_write), WRITE_CHUNK):
        await store.write_quarters(to_write[start : start + WRITE_CHUNK])
    if progress is not None:
        await progress(0, len(to_write))
    for start in range(0, len(raw), WRITE_CHUNK):
        await store.write(raw[start : start + WRITE_CHUNK])
        if progress is not None:
            # The quarter hours are written first: a raw chunk done is that many values done.
            done = len(to_write) - len(raw) + min(start + WRITE_CHUNK, len(raw))
            await progress(done, len(to_write))
        log.info(
            "import %s: %d of %d values written",
            import_id,
            min(start + WRITE_CHUNK, len(raw)),
            len(raw),
        )
    if progress is not None and not raw:
        await progress(len(to_write), len(to_write))
