"""Every query of the import history (the registry's are the kernel's read model's)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from energy_service.imports.models import MeterImport, MeterImportCurve, MeterImportJob


class ImportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_content(self, community_id: int, sha256: str) -> MeterImport | None:
        found: MeterImport | None = await self.session.scalar(
            select(MeterImport).where(
                MeterImport.community_id == community_id, MeterImport.content_sha256 == sha256
            )
        )
        return found

    async def current_curves(
        self, plant_ids: Sequence[int]
    ) -> dict[tuple[int, str, object], MeterImportCurve]:
        """The curves not superseded, by (plant, direction, month)."""
        rows = await self.session.scalars(
            select(MeterImportCurve).where(
                MeterImportCurve.plant_id.in_(list(plant_ids)),
                MeterImportCurve.superseded_by.is_(None),
            )
        )
        return {(c.plant_id, c.direction, c.month): c for c in rows}

    async def add(self, item: MeterImport, curves: Sequence[MeterImportCurve]) -> None:
        self.session.add(item)
        await self.session.flush()
        for curve in curves:
            curve.import_id = item.id
        self.session.add_all(curves)
        await self.session.flush()

    async def supersede(self, curve_ids: Sequence[int], by_import: int) -> None:
        if curve_ids:
            await self.session.execute(
                update(MeterImportCurve)
                .where(MeterImportCurve.id.in_(list(curve_ids)))
                .values(superseded_by=by_import)
            )

    async def get(self, import_id: int) -> MeterImport | None:
        return await self.session.get(MeterImport, import_id)

    async def curves_of(self, import_id: int) -> list[MeterImportCurve]:
        rows = await self.session.scalars(
            select(MeterImportCurve)
            .where(MeterImportCurve.import_id == import_id)
            .order_by(MeterImportCurve.pod, MeterImportCurve.direction, MeterImportCurve.month)
        )
        return list(rows)

    async def history(
        self, community_id: int, *, offset: int, limit: int
    ) -> tuple[list[MeterImport], int]:
        total = await self.session.scalar(
            select(func.count(MeterImport.id)).where(MeterImport.community_id == community_id)
        )
        rows = await self.session.scalars(
            select(MeterImport)
            .where(MeterImport.community_id == community_id)
            .order_by(MeterImport.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list(rows), int(total or 0)


class ImportJobRepository:
    """The background uploads: queued, claimed under a lease, their progress, their end."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, job: MeterImportJob) -> MeterImportJob:
        self.session.add(job)
        await self.session.flush()
        return job

    async def get(self, job_id: int) -> MeterImportJob | None:
        return await self.session.get(MeterImportJob, job_id)

    async def claim(self, now: datetime, lease: timedelta) -> MeterImportJob | None:
        """The oldest job waiting (or whose worker's lease ran out), now RUNNING under a new
        lease; other workers skip the row while this transaction holds it."""
        job: MeterImportJob | None = await self.session.scalar(
            select(MeterImportJob)
            .options(undefer(MeterImportJob.content))
            .where(
                or_(
                    MeterImportJob.status == "QUEUED",
                    (MeterImportJob.status == "RUNNING") & (MeterImportJob.lease_until < now),
                )
            )
            .order_by(MeterImportJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if job is not None:
            job.status = "RUNNING"
            job.attempts += 1
            job.lease_until = now + lease
            await self.session.flush()
        return job

    async def progress(self, job_id: int, written: int, total: int) -> None:
        await self.session.execute(
            update(MeterImportJob)
            .where(MeterImportJob.id == job_id)
            .values(values_written=written, values_total=total)
        )

    async def finish(self, job_id: int, status: str, **values: Any) -> None:
        await self.session.execute(
            update(MeterImportJob)
            .where(MeterImportJob.id == job_id)
            .values(status=status, lease_until=None, **values)
        )
