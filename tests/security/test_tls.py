"""Devices reach the broker over TLS only, with the development CA.

Through the running Mosquitto (infra/mosquitto.sh): its TLS listener
(MQTT_TLS_PORT) serves the certificate of the development CA
(cerc_shared.dev_tls), refuses clients that do not trust it and TLS below
1.2; the plain listener is bound to loopback for the bridge alone. The
gateway's HTTPS is tested with a real Envoy in tests/contract/test_gateway_config.py.
"""

from __future__ import annotations

import socket
import ssl
import uuid
import warnings

import aiomqtt
import pytest
from cerc_shared.dev_tls import ensure_dev_pki
from cerc_shared.testing import ports, repo_root

# The bridge's account (development key, infra/mosquitto.sh).
BRIDGE = ("cerc_bridge", "cerc_bridge_dev")
READY = "cerc/_infra/ready"


def _tls_port() -> int:
    return int(ports()["MQTT_TLS_PORT"])


def _trusting() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ensure_dev_pki().ca)


@pytest.mark.servers
async def test_mqtt_over_tls_with_the_development_ca_round_trips() -> None:
    topic = f"{READY}/tls-{uuid.uuid4().hex[:8]}"
    user, password = BRIDGE
    async with aiomqtt.Client(
        "127.0.0.1", _tls_port(), username=user, password=password, tls_context=_trusting()
    ) as client:
        await client.subscribe(topic, qos=1)
        await client.publish(topic, b"over tls", qos=1)
        async for message in client.messages:
            assert bytes(message.payload) == b"over tls"
            break


@pytest.mark.servers
async def test_a_device_that_does_not_trust_the_ca_cannot_connect() -> None:
    user, password = BRIDGE
    untrusting = ssl.create_default_context()  # the system's CAs only
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(
            "127.0.0.1", _tls_port(), username=user, password=password, tls_context=untrusting
        ):
            pass


@pytest.mark.servers
def test_the_broker_refuses_tls_below_1_2() -> None:
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(cafile=ensure_dev_pki().ca)
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # the client really offers TLS 1.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with (
        socket.create_connection(("127.0.0.1", _tls_port()), timeout=5) as raw,
        pytest.raises(ssl.SSLError, match=r"PROTOCOL_VERSION|protocol version"),
    ):
        old.wrap_socket(raw, server_hostname="localhost")
    # ...while TLS 1.2 and up succeed with the same CA and name.
    with (
        socket.create_connection(("127.0.0.1", _tls_port()), timeout=5) as raw,
        _trusting().wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_the_plain_listener_is_loopback_only_and_devices_get_the_tls_one() -> None:
    config = (repo_root() / "infra" / "mosquitto.sh").read_text()
    listeners = [line.split()[1:] for line in config.splitlines() if line.startswith("listener ")]
    assert listeners == [["$MQTT_PORT", "127.0.0.1"], ["$MQTT_TLS_PORT", "127.0.0.1"]]
    fleet = (repo_root() / "scripts" / "fleet.py").read_text()
    assert '"MQTT_PUBLIC_PORT": "{MQTT_TLS_PORT}"' in fleet
