"""Publishing to devices from the API process (commands).

One short connection per publish, as the API's command account (whose role
may publish to devices' ``commands`` topics only) with a fresh client id:
commands are rare, and nothing is left to go stale between them.
"""

from __future__ import annotations

import asyncio
import uuid

import aiomqtt

from iot_service.settings import IotSettings


class CommandPublisher:
    def __init__(self, settings: IotSettings) -> None:
        self._settings = settings

    async def __call__(self, topic: str, payload: bytes) -> None:
        s = self._settings
        async with asyncio.timeout(s.mqtt_timeout_s):
            async with aiomqtt.Client(
                s.mqtt_host,
                s.mqtt_port,
                username=s.mqtt_commands_username,
                password=s.mqtt_commands_password,
                identifier=f"iot-api-{uuid.uuid4().hex[:12]}",
                timeout=s.mqtt_timeout_s,
            ) as client:
                # QoS 1: returns once the broker has it (PUBACK).
                await client.publish(topic, payload, qos=1)
