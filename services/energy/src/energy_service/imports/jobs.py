"""Large uploads loaded in the background: ``POST /api/energy/imports/`` answers 202 with a job,
``GET /api/energy/imports/jobs/{id}/`` tells its progress and, when the file is refused, its row
errors. The job row is the queue: any replica's worker claims it (SKIP LOCKED) under a lease, so
a worker that dies leaves it to another; loading the same file again changes nothing, so a
retried job is safe."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from cerc_shared.auth import Principal
from cerc_shared.envelope import ApiError
from cerc_shared.worker import Worker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from energy_service.imports.models import MeterImportJob
from energy_service.imports.repository import ImportJobRepository
from energy_service.imports.service import import_file
from energy_service.timeseries import TimeSeriesStore

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


class ImportJobs(Worker):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: TimeSeriesStore,
        *,
        poll_s: float = 2.0,
        lease: timedelta = timedelta(minutes=10),
    ) -> None:
        super().__init__("import_jobs")
        self.sessionmaker = sessionmaker
        self.store = store
        self.poll_s = poll_s
        self.lease = lease
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A job was queued here: take it now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            if not await self.run_one():
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)

    async def run_one(self) -> bool:
        """Claim and load one job; False when none was waiting."""
        async with self.sessionmaker() as session, session.begin():
            job = await ImportJobRepository(session).claim(datetime.now(UTC), self.lease)
            if job is None:
                return False
            session.expunge(job)
        await self._load(job)
        return True

    async def _set(self, job_id: int, status: str | None = None, **values: Any) -> None:
        async with self.sessionmaker() as session, session.begin():
            repo = ImportJobRepository(session)
            if status is None:
                await repo.progress(job_id, values["written"], values["total"])
            else:
                await repo.finish(job_id, status, **values)

    async def progress(self, job_id: int, written: int, total: int) -> None:
        """Tell the job's readers how far it got, in a transaction of its own (the import's
        stays open until every value is written)."""
        await self._set(job_id, written=written, total=total)

    async def _load(self, job: MeterImportJob) -> None:
        async def progress(written: int, total: int) -> None:
            await self.progress(job.id, written, total)

        principal = Principal(
            user_id=job.uploaded_by,
            username="",
            user_type=job.uploader_type,
            token_id=f"import-job-{job.id}",
        )
        try:
            async with self.sessionmaker() as session:
                result = await import_file(
                    session, self.store, principal,
                    community_id=job.community_id, name=job.file_name, data=job.content,
                    pod=job.pod, direction=job.direction,  # type: ignore[arg-type]
                    progress=progress,
                )  # fmt: skip
                await session.commit()
        except ApiError as exc:
            # The file itself is wrong (or the uploader lost the right): nothing was written.
            await self._set(
                job.id, "REJECTED", errors=[e.model_dump(exclude_none=True) for e in exc.errors]
            )
            return
        except Exception as exc:
            log.exception("import job %s failed (attempt %d)", job.id, job.attempts)
            failed = job.attempts >= MAX_ATTEMPTS
            await self._set(
                job.id, "FAILED" if failed else "QUEUED",
                errors=[{"code": "import_failed", "message": f"{type(exc).__name__}: {exc}"}],
            )  # fmt: skip
            return
        record = result.record
        await self._set(
            job.id, "DONE", import_id=record.id,
            values_total=record.values_total, values_written=record.values_written,
        )  # fmt: skip
