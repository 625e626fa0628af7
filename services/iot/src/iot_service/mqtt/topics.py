"""The MQTT topic contract between devices, the bridge and the IoT service.

Devices publish under their own subtree and read one topic::

    energy/plant/{p}/device/{d}/measurements            the specification's JSON
    energy/plant/{p}/device/{d}/measurements/{fmt}/...  a meter's native payload
                                    (fmt: ``shelly`` or ``tasmota``; see the adapters package)
    energy/plant/{p}/device/{d}/status                  battery, signal, ONLINE/ERROR
    energy/plant/{p}/device/{d}/acks                    {"command_id", "result", "detail"}
    energy/plant/{p}/device/{d}/commands                (the device subscribes) commands

Mosquitto's dynamic security enforces this per device: publish only under
``energy/plant/{its plant}/device/{its id}/#``, subscribe only to its ``commands``.
"""

from __future__ import annotations

import re
from typing import Any, Literal, NamedTuple

Channel = Literal["measurements", "status", "acks"]

DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$"
# Usernames starting like this belong to platform accounts, never to a device.
RESERVED_PREFIX = "cerc"
# Every device's MQTT user name starts with this, so no device id can name
# (and so have provisioning replace) an account the iot service did not make.
DEVICE_USERNAME_PREFIX = "dev-"

_TOPIC = re.compile(
    r"^energy/plant/(?P<plant>[0-9]{1,18})/device/(?P<device>[A-Za-z0-9][A-Za-z0-9_.-]{2,63})"
    r"/(?P<channel>measurements|status|acks)(?:/(?P<rest>.+))?$"
)


def device_username(device_id: str) -> str:
    return f"{DEVICE_USERNAME_PREFIX}{device_id}"


def device_root(plant_id: int, device_id: str) -> str:
    return f"energy/plant/{plant_id}/device/{device_id}"


def commands_topic(plant_id: int, device_id: str) -> str:
    return f"{device_root(plant_id, device_id)}/commands"


# What the IoT API's command account may publish to, and nothing else.
COMMANDS_PATTERN = "energy/plant/+/device/+/commands"


def bridge_subscriptions(share_group: str) -> list[str]:
    """Shared subscriptions: each message goes to one bridge replica of the group."""
    base = f"$share/{share_group}/energy/plant/+/device/+"
    # `measurements/#` also matches `measurements` itself.
    return [f"{base}/measurements/#", f"{base}/status", f"{base}/acks"]


# A named tuple: the bridge makes one per message, and a frozen dataclass
# costs three times as much to build.
class DeviceTopic(NamedTuple):
    plant_id: int
    device_id: str
    channel: Channel
    # Below measurements/: the native format and the meter's own sub-path.
    rest: str | None

    @property
    def format(self) -> str:
        return self.rest.split("/", 1)[0] if self.rest else "spec"


def parse_topic(topic: str) -> DeviceTopic | None:
    match = _TOPIC.match(topic)
    if match is None:
        return None
    channel: Any = match["channel"]
    if channel != "measurements" and match["rest"]:
        return None
    return DeviceTopic(int(match["plant"]), match["device"], channel, match["rest"])


def device_acls(plant_id: int, device_id: str) -> list[dict[str, Any]]:
    """The dynsec ACLs of one device's role."""
    root = device_root(plant_id, device_id)
    commands = commands_topic(plant_id, device_id)
    return [
        {"acltype": "publishClientSend", "topic": f"{root}/#", "allow": True},
        {"acltype": "subscribePattern", "topic": commands, "allow": True},
        {"acltype": "publishClientReceive", "topic": commands, "allow": True},
        # Deny everything else it could receive (the default allows receiving).
        {"acltype": "publishClientReceive", "topic": "#", "allow": False, "priority": -1},
    ]
