"""Device-side MQTT helpers for the tests: connect as a device, as the bridge account."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiomqtt
from cerc_shared.testing import ports


def mqtt_port() -> int:
    return int(ports()["MQTT_PORT"])


@asynccontextmanager
async def connect(
    username: str, password: str, *, identifier: str | None = None
) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(
        "127.0.0.1",
        mqtt_port(),
        username=username,
        password=password,
        identifier=identifier or f"test-{uuid.uuid4().hex[:10]}",
        timeout=5,
    ) as client:
        yield client


def as_bridge() -> AsyncIterator[aiomqtt.Client]:  # type: ignore[misc]
    return connect("cerc_bridge", "cerc_bridge_dev")  # type: ignore[return-value]


async def collect(client: aiomqtt.Client, seconds: float) -> list[tuple[str, bytes]]:
    got: list[tuple[str, bytes]] = []
    try:
        async with asyncio.timeout(seconds):
            async for message in client.messages:
                got.append((str(message.topic), bytes(message.payload)))  # type: ignore[arg-type]
    except TimeoutError:
        pass
    return got
