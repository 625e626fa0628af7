"""The settlement job worker: takes QUEUED runs one at a time and computes them.

A run is claimed (RUNNING, committed, so progress is visible), computed in a
second transaction that writes its results, and marked COMPLETED or FAILED.
Several replicas share the queue (SKIP LOCKED). A run left RUNNING by a crash
is queued again at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from cerc_shared.worker import Worker
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from economic_service import repository
from economic_service.energy import EnergySource
from economic_service.models import SettlementRun
from economic_service.service.settlements import compute_run
from economic_service.settings import EconomicSettings

log = logging.getLogger(__name__)


class SettlementJobs(Worker):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: EconomicSettings,
        energy: EnergySource,
    ) -> None:
        super().__init__("settlement-jobs")
        self._sessionmaker = sessionmaker
        self._poll_s = settings.settle_poll_interval_s
        self.energy = energy
        self._wake = asyncio.Event()

    def poke(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                update(SettlementRun)
                .where(SettlementRun.status == "RUNNING")
                .values(status="QUEUED", progress=0)
            )
        while True:
            self._wake.clear()
            while await self.run_one():
                pass
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_s)

    async def run_one(self) -> bool:
        """Compute the oldest queued run; False when none is queued."""
        async with self._sessionmaker() as session, session.begin():
            run = await repository.claim_queued_run(session)
            if run is None:
                return False
            run.status = "RUNNING"
            run.progress = 10
            run.started_at = datetime.now(UTC)
            run_id = run.id
        async with self._sessionmaker() as session, session.begin():
            claimed = await repository.run(session, run_id, lock=True)
            assert claimed is not None
            await compute_run(session, claimed, self.energy)
        log.info("settlement run %s computed", run_id)
        return True
