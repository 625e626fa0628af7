"""Revokes the devices of plant stays that have ended, runs in the IoT API process.

A ``plant.left`` dated today or earlier revokes at once (``cer_event_handler``);
one dated in the future arrives long before it takes effect, and nothing else
happens on that day. This worker looks, every ``every_s``, for devices whose
stay has ended by Italy's today and revokes them (issue 12, item 1).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date

from cerc_shared.clock import italian_today
from cerc_shared.worker import Worker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from iot_service.mqtt.dynsec import DynSec
from iot_service.service import revoke_devices_of_ended_stays

log = logging.getLogger(__name__)


class StayEndRevoker(Worker):
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        dynsec: DynSec,
        *,
        every_s: float,
        today: Callable[[], date] = italian_today,
    ) -> None:
        super().__init__("iot-stay-end-revoker")
        self._sessionmaker = sessionmaker
        self._dynsec = dynsec
        self._every_s = every_s
        self._today = today
        # A failed check (the database away) is tried again at the next one.
        self.restart_delay_s = every_s
        self.revoked = 0

    async def check(self) -> int:
        """Revoke what has ended by today, a batch per transaction; how many."""
        total = 0
        while True:
            async with self._sessionmaker() as session, session.begin():
                batch = await revoke_devices_of_ended_stays(session, self._dynsec, self._today())
            for device in batch:
                log.info("device %s revoked: its plant's stay has ended", device.id)
            total += len(batch)
            if not batch:
                break
        self.revoked += total
        return total

    async def run(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self._every_s)
