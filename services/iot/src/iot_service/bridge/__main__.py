"""The bridge's process: ``python -m iot_service.bridge``."""

from __future__ import annotations

import asyncio
import gc
import signal

import uvloop
from cerc_shared.logging import configure_logging

from iot_service.bridge.runner import BridgeRunner, health_server
from iot_service.settings import IotSettings


async def _main() -> None:
    settings = IotSettings()
    configure_logging(f"{settings.service_name}-bridge", settings.log_level)
    # Every message makes a few dozen short-lived objects, and a batch's live
    # while it waits for Postgres and Kafka: at the default threshold (700
    # allocations) the cyclic collector ran every few messages and promoted
    # batches in flight to older generations, whose collections walk the
    # whole heap. What was loaded at start-up is never garbage: frozen, it is
    # left out of every collection. Collections still run (memory stays flat),
    # a hundred times less often.
    gc.freeze()
    gc.set_threshold(70_000, 10, 10)
    runner = BridgeRunner(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, runner.stop)
    server = (
        await health_server(runner, settings.bridge_health_port)
        if settings.bridge_health_port
        else None
    )
    try:
        await runner.run()
    finally:
        if server is not None:
            server.close()


def main() -> None:
    # uvloop: the MQTT, Kafka and Postgres sockets' reads and writes and the
    # loop's callbacks run in C; on plain asyncio they were a good share of
    # the bridge's CPU per message.
    uvloop.run(_main())


if __name__ == "__main__":
    main()
