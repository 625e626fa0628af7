"""A service's background work: one task, started and stopped with the app.

A :class:`Worker` runs :meth:`Worker.run` in a task. When ``run`` raises, the
failure is logged and ``run`` starts again after ``restart_delay_s`` (a lost
broker or database comes back; the worker with it); when it returns, the
worker is done. :meth:`Worker.stop` cancels the task, waits for it and lets
the worker release what it holds (:meth:`Worker.closed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


class Worker:
    restart_delay_s: float = 1.0

    def __init__(self, name: str) -> None:
        self.name = name
        self.restarts = 0
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """The work: usually a loop that never returns. Raise to be restarted."""
        raise NotImplementedError

    def failed(self, exc: Exception) -> None:
        """Say why ``run`` stopped (before the restart); a subclass may say it its way."""
        log.error(
            "%s failed; restarting in %.1fs",
            self.name,
            self.restart_delay_s,
            exc_info=(type(exc), exc, exc.__traceback__),
        )

    async def closed(self) -> None:
        """Release what the worker holds once its task has ended (connections, producers)."""

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.closed()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _supervise(self) -> None:
        while True:
            try:
                await self.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.restarts += 1
                self.failed(exc)
            await asyncio.sleep(self.restart_delay_s)
