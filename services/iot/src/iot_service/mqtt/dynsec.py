"""Mosquitto's dynamic security plugin, driven over MQTT as its administrator.

Commands go to ``$CONTROL/dynamic-security/v1``; the answers come back on
``.../response`` to every administrator connected, so each command carries a
``correlationData`` and we wait for ours. One short connection per operation:
provisioning is rare, and a connection per call has no state to go stale
across broker restarts or to share between API replicas.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import aiomqtt

from iot_service.mqtt.topics import COMMANDS_PATTERN, device_acls

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"

# Answers that mean "already the way you want it" for the idempotent steps.
_ABSENT = ("not found",)


class DynSecError(Exception):
    """The broker refused a command, or could not be reached."""


class NotOurClient(Exception):
    """A broker client of that user name exists and the iot service did not
    make it: it is left alone, never replaced or deleted."""

    def __init__(self, username: str) -> None:
        super().__init__(f"the MQTT user name {username!r} belongs to another account")
        self.username = username


# The text name marks the clients the iot service made (with the device's role
# and nothing else); before the `dev-` prefix they read "device X of plant P".
def owner_mark(device_id: str) -> str:
    return f"cerc-iot device {device_id}"


def _legacy_mark(device_id: str) -> re.Pattern[str]:
    return re.compile(rf"device {re.escape(device_id)} of plant [0-9]+")


@dataclass(frozen=True)
class DynSec:
    host: str
    port: int
    username: str
    password: str
    timeout_s: float = 5.0

    async def run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send ``commands`` in one message; return the responses in the same order."""
        tag = uuid.uuid4().hex
        tagged = [{**c, "correlationData": f"{tag}:{i}"} for i, c in enumerate(commands)]
        try:
            async with asyncio.timeout(self.timeout_s):
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    username=self.username,
                    password=self.password,
                    identifier=f"iot-dynsec-{tag[:12]}",
                    timeout=self.timeout_s,
                ) as client:
                    await client.subscribe(RESPONSE_TOPIC, qos=1)
                    await client.publish(
                        CONTROL_TOPIC, json.dumps({"commands": tagged}).encode(), qos=1
                    )
                    async for message in client.messages:
                        responses = _responses(message.payload)
                        mine = [
                            r
                            for r in responses
                            if str(r.get("correlationData", "")).startswith(tag)
                        ]
                        if mine:
                            mine.sort(key=lambda r: int(str(r["correlationData"]).split(":")[1]))
                            return mine
        except (aiomqtt.MqttError, TimeoutError, OSError) as exc:
            raise DynSecError(f"dynamic security unavailable: {exc}") from exc
        raise DynSecError("no answer from the dynamic security plugin")

    async def client(self, username: str) -> dict[str, Any] | None:
        """The broker's client of that user name, or None."""
        (response,) = await self.run([{"command": "getClient", "username": username}])
        _check([response], tolerate=_ABSENT)
        data = response.get("data")
        found = data.get("client") if isinstance(data, dict) else None
        return found if isinstance(found, dict) and not response.get("error") else None

    async def _owned(self, username: str, device_id: str) -> bool:
        """Whether a client of that name exists; raise NotOurClient if it is
        not the iot service's own client of this device."""
        found = await self.client(username)
        if found is None:
            return False
        roles = {str(r.get("rolename")) for r in found.get("roles") or [] if isinstance(r, dict)}
        text = str(found.get("textname") or "")
        ours = text == owner_mark(device_id) or _legacy_mark(device_id).fullmatch(text)
        if not ours or roles - {role_name(device_id)} or found.get("groups"):
            raise NotOurClient(username)
        return True

    async def provision_device(
        self,
        *,
        username: str,
        password: str,
        plant_id: int,
        device_id: str,
        replaces: str | None = None,
    ) -> None:
        """(Re)create the device's role and client, so a retry after a
        half-finished attempt ends in the same place. A client already under
        ``username`` (or ``replaces``, the device's previous user name) is
        deleted (and its connection with it) only if the iot service made it
        for this device; any other raises NotOurClient and nothing changes."""
        stale = [
            name
            for name in dict.fromkeys([username, replaces or username])
            if await self._owned(name, device_id)
        ]
        role = role_name(device_id)
        responses = await self.run(
            [
                *({"command": "deleteClient", "username": name} for name in stale),
                {"command": "deleteRole", "rolename": role},
                {
                    "command": "createRole",
                    "rolename": role,
                    "textname": owner_mark(device_id),
                    "acls": device_acls(plant_id, device_id),
                },
                {
                    "command": "createClient",
                    "username": username,
                    "password": password,
                    "textname": owner_mark(device_id),
                    "roles": [{"rolename": role}],
                },
            ]
        )
        _check(responses[-2:])
        _check(responses[:-2], tolerate=_ABSENT)

    async def remove_device(self, *, username: str, device_id: str) -> None:
        """Delete the device's client (the broker drops its connection) and role;
        a client of that name the iot service did not make raises NotOurClient."""
        commands: list[dict[str, Any]] = [
            {"command": "deleteRole", "rolename": role_name(device_id)}
        ]
        if await self._owned(username, device_id):
            commands.insert(0, {"command": "deleteClient", "username": username})
        _check(await self.run(commands), tolerate=_ABSENT)

    async def ensure_bridge_account(self, *, username: str, password: str) -> None:
        """The bridge's client and role (read/write energy/#, shared subscriptions).
        infra/mosquitto.sh makes it locally; in compose and Kubernetes the IoT
        service makes it at start. Existing ones are left as they are."""
        role = "cerc-bridge"
        acls = [
            {"acltype": "publishClientSend", "topic": "energy/#", "allow": True},
            {"acltype": "subscribePattern", "topic": "energy/#", "allow": True},
            {"acltype": "subscribePattern", "topic": "$share/+/energy/#", "allow": True},
        ]
        responses = await self.run(
            [
                {"command": "createRole", "rolename": role, "acls": acls},
                {
                    "command": "createClient",
                    "username": username,
                    "password": password,
                    "roles": [{"rolename": role}],
                },
            ]
        )
        _check(responses, tolerate=("already exists",))

    async def ensure_commands_account(self, *, username: str, password: str) -> None:
        """The IoT API's own client for commands: its role may publish to
        devices' ``commands`` topics and nothing else (not the bridge's
        account, which reads and writes all of energy/#). Existing ones are
        left as they are."""
        role = "cerc-iot-commands"
        acls = [{"acltype": "publishClientSend", "topic": COMMANDS_PATTERN, "allow": True}]
        responses = await self.run(
            [
                {"command": "createRole", "rolename": role, "acls": acls},
                {
                    "command": "createClient",
                    "username": username,
                    "password": password,
                    "roles": [{"rolename": role}],
                },
            ]
        )
        _check(responses, tolerate=("already exists",))


def role_name(device_id: str) -> str:
    return f"device-{device_id}"


def _responses(payload: Any) -> list[dict[str, Any]]:
    try:
        body = json.loads(payload)
    except (TypeError, ValueError):
        return []
    items = body.get("responses") if isinstance(body, dict) else None
    return [r for r in items if isinstance(r, dict)] if isinstance(items, list) else []


def _check(responses: list[dict[str, Any]], tolerate: tuple[str, ...] = ()) -> None:
    for response in responses:
        error = response.get("error")
        if error and not any(t in str(error).lower() for t in tolerate):
            raise DynSecError(f"{response.get('command')}: {error}")
