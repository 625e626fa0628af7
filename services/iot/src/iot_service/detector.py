"""The OFFLINE detector: runs in the IoT API process, every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iot_service.service import mark_silent_devices_offline

log = logging.getLogger(__name__)


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
        return len(silent)

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("offline detector failed; retrying")
            await asyncio.sleep(self._every_s)
