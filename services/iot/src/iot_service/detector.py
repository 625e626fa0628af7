"""The OFFLINE detector: runs in the IoT API process, every few seconds."""

from __future__ import annotations

import asyncio
import logging
import time

from cerc_shared.worker import Worker
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


class OfflineDetector(Worker):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        after_intervals: int,
        every_s: float,
    ) -> None:
        super().__init__("iot-offline-detector")
        self._sessionmaker = sessionmaker
        self._after = after_intervals
        self._every_s = every_s
        # A failed check is tried again at the next one.
        self.restart_delay_s = every_s
        self.marked_offline = 0
        self._counted_at = 0.0

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

    async def run(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self._every_s)
