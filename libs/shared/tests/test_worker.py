"""The background-worker base: a crash is logged and the work starts again
after the delay; stop() cancels it and lets it release what it holds."""

from __future__ import annotations

import asyncio
import logging

import pytest
from cerc_shared.worker import Worker


class Flaky(Worker):
    restart_delay_s = 0.01

    def __init__(self, failures: int) -> None:
        super().__init__("flaky")
        self.failures = failures
        self.runs = 0
        self.released = 0
        self.third_run = asyncio.Event()

    async def run(self) -> None:
        self.runs += 1
        if self.runs == 3:
            self.third_run.set()
        if self.runs <= self.failures:
            raise RuntimeError(f"crash {self.runs}")
        await asyncio.sleep(3600)

    async def closed(self) -> None:
        self.released += 1


async def test_a_crashed_worker_is_logged_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    worker = Flaky(failures=2)
    with caplog.at_level(logging.ERROR, logger="cerc_shared.worker"):
        worker.start()
        async with asyncio.timeout(5):
            await worker.third_run.wait()
    assert worker.running and worker.restarts == 2
    assert [r.exc_info[1].args[0] for r in caplog.records if r.exc_info] == ["crash 1", "crash 2"]
    await worker.stop()
    assert not worker.running and worker.released == 1


async def test_a_worker_whose_work_returns_is_done() -> None:
    class Once(Worker):
        async def run(self) -> None:
            return None

    worker = Once("once")
    worker.start()
    await asyncio.sleep(0.05)
    assert not worker.running and worker.restarts == 0
    await worker.stop()  # stopping a finished worker is fine
