"""The OFFLINE detector: runs in the IoT API process, every few seconds."""

from __future__ import annotations

import asyncio
import logging

from cerc_shared.worker import Worker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iot_service.service import mark_silent_devices_offline

log = logging.getLogger(__name__)


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

    async def check(self) -> int:
        async with self._sessionmaker() as session, session.begin():
            silent = await mark_silent_devices_offline(session, after_intervals=self._after)
        self.marked_offline += len(silent)
        return len(silent)

    async def run(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self._every_s)
