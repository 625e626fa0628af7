"""The OFFLINE detector: runs in the IoT API process, every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iot_service.repository import DeviceRepository
from iot_service.service import mark_silent_devices_offline

log = logging.getLogger(__name__)

# For the alert on a community whose devices go offline together (a site's
# network, a broker problem). Counted every COUNT_EVERY_S, not every check:
# a grouped count over every device costs more than the check itself.
DEVICES = Gauge("iot_devices", "Live devices, by community and status", ["community_id", "status"])
COUNT_EVERY_S = 30.0


class OfflineDetector:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        after_intervals: int,
        every_s: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._after = after_intervals
        self._every_s = every_s
        self._task: asyncio.Task[None] | None = None
        self.marked_offline = 0
        self._counted_at = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="iot-offline-detector")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def check(self) -> int:
        async with self._sessionmaker() as session, session.begin():
            silent = await mark_silent_devices_offline(session, after_intervals=self._after)
        self.marked_offline += len(silent)
        if time.monotonic() - self._counted_at >= COUNT_EVERY_S:
            await self.count_devices()
        return len(silent)

    async def count_devices(self) -> None:
        async with self._sessionmaker() as session:
            counts = await DeviceRepository(session).count_by_community_and_status()
        DEVICES.clear()
        for community_id, status, n in counts:
            DEVICES.labels(str(community_id), status).set(n)
        self._counted_at = time.monotonic()

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("offline detector failed; retrying")
            await asyncio.sleep(self._every_s)
