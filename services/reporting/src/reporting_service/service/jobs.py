"""The report job worker: takes QUEUED jobs one at a time and makes their file.

A job is claimed (RUNNING, committed, so progress is visible); its figures are
asked of the owning services, the registry facts read from the local read
model, the document composed and rendered (in a thread: weasyprint and
matplotlib block), the file stored, and the job marked DONE or FAILED. Several
replicas share the queue (SKIP LOCKED); a job left RUNNING by a crash is queued
again at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from datetime import UTC, date, datetime

from cerc_shared.metrics import job_run
from cerc_shared.worker import Worker
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reporting_service import repository
from reporting_service.figures import Figures, FiguresUnavailable, ReportedRun
from reporting_service.models import ReportJob, registry
from reporting_service.render.document import Document
from reporting_service.render.formats import render
from reporting_service.service import compose
from reporting_service.storage import ReportStore

log = logging.getLogger(__name__)


def _span(period: str) -> tuple[date, date]:
    year = int(period[:4])
    if len(period) == 4:
        return date(year, 1, 1), date(year + 1, 1, 1)
    month = int(period[5:])
    return date(year, month, 1), date(year + (month == 12), month % 12 + 1, 1)


async def community_context(
    session: AsyncSession, community_id: int, period: str
) -> compose.CommunityContext:
    reader = registry.reader(session)
    span = _span(period)
    community = await reader.community(community_id)
    stays = await reader.plant_stays(community_id, between=span)
    memberships = await reader.memberships_of_community(community_id, between=span)
    return compose.CommunityContext(
        community_id,
        community.name if community else f"#{community_id}",
        community.code if community else "",
        stays,
        memberships,
    )


async def compose_job(
    session: AsyncSession, job: ReportJob, figures: Figures, now: datetime
) -> Document:
    ctx = await community_context(session, job.community_id, job.period)
    if job.kind == "MONTHLY_COMMUNITY":
        energy = await figures.energy_month(job.community_id, job.period)
        runs: dict[str, ReportedRun] = {}
        for year in {
            job.period[:4],
            compose.previous_month(job.period)[:4],
            str(int(job.period[:4]) - 1),
        }:
            runs.update({r.period: r for r in await figures.settlements(job.community_id, year)})
        days = await figures.energy_days(job.community_id, job.period)
        return compose.monthly_report(ctx, job.period, job.language, energy, runs, now, days)
    if job.kind == "MEMBER_STATEMENT":
        assert job.member_user_id is not None
        energy_by_month = {
            month: await figures.energy_month(job.community_id, month)
            for month in compose.months_of(job.period)
        }
        settled = {r.period: r for r in await figures.settlements(job.community_id, job.period)}
        transactions = await figures.transactions(job.community_id, int(job.period[:4]))
        return compose.member_statement(
            ctx,
            job.member_user_id,
            job.period,
            job.language,
            energy_by_month,
            settled,
            transactions,
            now,
        )
    runs_of_year = await figures.settlements(job.community_id, job.period)
    transactions = await figures.transactions(job.community_id, int(job.period))
    return compose.annual_report(ctx, job.period, job.language, runs_of_year, transactions, now)


def filename(job: ReportJob, suffix: str) -> str:
    kind = {"MONTHLY_COMMUNITY": "report", "MEMBER_STATEMENT": "statement", "ANNUAL": "annual"}
    who = f"-{job.member_user_id}" if job.member_user_id else ""
    return f"cer{job.community_id}-{kind[job.kind]}{who}-{job.period}-{job.language}.{suffix}"


class ReportJobs(Worker):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        figures: Figures,
        store: ReportStore,
        poll_interval_s: float,
    ) -> None:
        super().__init__("report-jobs")
        self._sessionmaker = sessionmaker
        self.figures = figures
        self.store = store
        self._poll_s = poll_interval_s
        self._wake = asyncio.Event()

    def poke(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                update(ReportJob)
                .where(ReportJob.status == "RUNNING")
                .values(status="QUEUED", progress=0)
            )
        while True:
            self._wake.clear()
            while await self.run_one():
                pass
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_s)

    async def run_one(self) -> bool:
        """Make the oldest queued report; False when none is queued."""
        async with self._sessionmaker() as session, session.begin():
            job = await repository.claim_queued_job(session)
            if job is None:
                return False
            job.status = "RUNNING"
            job.progress = 10
            job.started_at = datetime.now(UTC)
            job_id = job.id
        async with self._sessionmaker() as session, session.begin():
            job = await repository.job(session, job_id)
            assert job is not None
            try:
                with job_run("report"):
                    document = await compose_job(session, job, self.figures, datetime.now(UTC))
                    rendered = await asyncio.to_thread(render, document, job.format)
                    name = filename(job, rendered.suffix)
                    key = f"report-{job.id}/{name}"
                    await self.store.put(key, rendered.data, rendered.content_type)
            except FiguresUnavailable as exc:
                job.status, job.error = "FAILED", str(exc)[:1000]
            except Exception:
                # A job that cannot be made must not be retried for ever.
                log.exception("report job %s failed", job_id)
                job.status, job.error = "FAILED", "internal error while making the report"
            else:
                job.status = "DONE"
                job.storage_key, job.filename = key, name
                job.content_type = rendered.content_type
                job.size_bytes = len(rendered.data)
                job.sha256 = hashlib.sha256(rendered.data).hexdigest()
                job.progress = 100
            job.finished_at = datetime.now(UTC)
        log.info("report job %s %s", job_id, job.status)
        return True
