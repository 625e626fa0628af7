"""The GSE worker: runs queued sync jobs (asked for through the API, or by the
schedule every ``gse_sync_interval_s`` for each community with credentials), one
at a time, outside any user request. Several replicas share the queue (SKIP
LOCKED); a job left RUNNING by a crash is queued again at start. One circuit
breaker per community, kept by the worker, so a GSE that fails for one
referente's client is left alone for the cool-down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from cerc_shared.clock import italian_today
from cerc_shared.crypto import FieldCipher
from cerc_shared.worker import Worker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from economic_service import repository
from economic_service.energy import EnergyClient, EnergySource
from economic_service.models import GseSyncJob
from economic_service.service.gse import sync
from economic_service.service.gse.calendar import previous_months
from economic_service.service.gse.client import (
    CircuitBreaker,
    GseClient,
    GseError,
    RetryPolicy,
)
from economic_service.settings import EconomicSettings
from economic_service.tokens import client_tokens

log = logging.getLogger(__name__)


class GseWorker(Worker):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: EconomicSettings,
        cipher: FieldCipher,
        energy: EnergySource | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__("gse-sync")
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._cipher = cipher
        self._clock = clock
        self.energy: EnergySource = energy or EnergyClient(settings, client_tokens(settings))
        self.breakers: dict[int, CircuitBreaker] = {}
        self._retry = RetryPolicy(
            max_attempts=settings.gse_max_attempts,
            backoff_base_s=settings.gse_backoff_base_s,
            backoff_max_s=settings.gse_backoff_max_s,
            retry_after_max_s=settings.gse_retry_after_max_s,
        )
        self._wake = asyncio.Event()
        self._next_schedule = clock() + settings.gse_sync_interval_s

    def poke(self) -> None:
        self._wake.set()

    def breaker(self, community_id: int) -> CircuitBreaker:
        if community_id not in self.breakers:
            self.breakers[community_id] = CircuitBreaker(
                self._settings.gse_breaker_threshold,
                self._settings.gse_breaker_cooldown_s,
                clock=self._clock,
            )
        return self.breakers[community_id]

    async def run(self) -> None:
        async with self._sessionmaker() as session, session.begin():
            await repository.requeue_running_gse_jobs(session)
        while True:
            self._wake.clear()
            if self._clock() >= self._next_schedule:
                self._next_schedule = self._clock() + self._settings.gse_sync_interval_s
                await self.enqueue_scheduled()
            while await self.run_one():
                pass
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), timeout=self._settings.gse_poll_interval_s
                )

    async def enqueue_scheduled(self) -> list[int]:
        """A job for every community with credentials and none already waiting."""
        months_back = self._settings.gse_months_back
        queued = []
        async with self._sessionmaker() as session, session.begin():
            for community_id in await repository.communities_with_gse_credentials(session):
                if await repository.open_gse_job(session, community_id) is not None:
                    continue
                job = await sync.enqueue(
                    session,
                    community_id,
                    previous_months(italian_today(), months_back),
                    requested_by=0,
                )
                queued.append(job.id)
        return queued

    async def run_one(self) -> bool:
        """Run the oldest queued job; False when none is queued."""
        async with self._sessionmaker() as session, session.begin():
            job = await repository.claim_queued_gse_job(session)
            if job is None:
                return False
            job.status = "RUNNING"
            job.started_at = datetime.now(UTC)
            job_id = job.id
        await self.run_job(job_id)
        return True

    async def run_job(self, job_id: int) -> None:
        """Plan, exchange, store. Whatever goes wrong ends the job FAILED with the
        reason: a job left RUNNING would be queued again at every restart."""
        summary: dict[str, Any] | None = None
        errors: list[dict[str, Any]] | None = None
        async with self._sessionmaker() as session:
            job = await repository.gse_job(session, job_id)
            assert job is not None
            community_id = job.community_id
            try:
                plan = await sync.plan(session, job, self._cipher)
            except LookupError as exc:
                plan, errors = None, [{"code": "no_gse_credentials", "message": str(exc)}]
            except Exception as exc:  # a secret that no configured key opens, among others
                log.exception("gse sync job %s: cannot prepare", job_id)
                plan, errors = None, [{"code": "cannot_prepare", "message": repr(exc)}]
        breaker = self.breaker(community_id)
        outcome = None
        calls: dict[str, Any] = {}
        if plan is not None:
            async with httpx.AsyncClient(
                base_url=self._settings.gse_url, timeout=self._settings.gse_timeout_s
            ) as http:
                gse = GseClient(
                    http,
                    client_id=plan.client_id,
                    client_secret=plan.client_secret,
                    breaker=breaker,
                    retry=self._retry,
                )
                try:
                    outcome = await sync.exchange(plan, gse, self.energy)
                except GseError as exc:
                    errors = [{"code": exc.code, "message": str(exc)}]
                except Exception as exc:  # an answer not as the GSE documents it
                    log.exception("gse sync job %s: unexpected answer", job_id)
                    errors = [{"code": "unexpected_answer", "message": repr(exc)}]
                calls = {"attempts": gse.log.attempts, "retries": gse.log.retries}
        if plan is not None and outcome is not None:
            try:
                async with self._sessionmaker() as session, session.begin():
                    job = await repository.gse_job(session, job_id, lock=True)
                    assert job is not None
                    summary = await sync.store(
                        session, plan, outcome, self._settings.reconciliation_tolerance_cents
                    )
                    self._finish(job, summary | {"calls": calls, "circuit": breaker.state}, None)
                log.info("gse sync job %s completed", job_id)
                return
            except Exception as exc:  # nothing of it kept: the transaction rolled back
                log.exception("gse sync job %s: cannot store", job_id)
                errors = [{"code": "cannot_store", "message": repr(exc)}]
        async with self._sessionmaker() as session, session.begin():
            job = await repository.gse_job(session, job_id, lock=True)
            assert job is not None
            extra = {"calls": calls, "circuit": breaker.state} if plan is not None else None
            self._finish(job, extra, errors)
        log.info("gse sync job %s failed: %s", job_id, errors)

    @staticmethod
    def _finish(
        job: GseSyncJob, summary: dict[str, Any] | None, errors: list[dict[str, Any]] | None
    ) -> None:
        job.status = "FAILED" if errors else "COMPLETED"
        job.summary = summary
        job.errors = errors
        job.finished_at = datetime.now(UTC)
