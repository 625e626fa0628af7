"""Mosquitto's limits (infra/mosquitto-limits.conf) hold on a real broker.

A private Mosquitto on a free loopback port, with the limits file the fleet's
brokers use, so nothing here touches the shared broker.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIMITS = ROOT / "infra" / "mosquitto-limits.conf"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        pytest.fail(f"{name} is not installed (infra/install.sh installs Mosquitto)")
    return found


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    tmp = tmp_path_factory.mktemp("mosquitto")
    port = _free_port()
    config = tmp / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n" + LIMITS.read_text()
    )
    log = (tmp / "mosquitto.log").open("w")
    proc = subprocess.Popen(
        [_binary("mosquitto"), "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mosquitto exited: {(tmp / 'mosquitto.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("mosquitto did not listen in 20 s")
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _round_trip(port: int, payload: bytes) -> bool:
    """Publish payload once; whether a subscriber received it."""
    topic = f"limits/{time.monotonic_ns()}"
    sub = subprocess.Popen(
        [_binary("mosquitto_sub"), "-p", str(port), "-t", topic, "-C", "1", "-W", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    subprocess.run(
        [_binary("mosquitto_pub"), "-p", str(port), "-t", topic, "-s"],
        input=payload,
        capture_output=True,
        timeout=20,
        check=False,
    )
    out, _ = sub.communicate(timeout=20)
    return len(out) >= len(payload)


def test_a_packet_above_the_limit_is_refused_a_reading_passes(broker: int) -> None:
    assert _round_trip(broker, b'{"kwh": "1.25"}' * 50)
    assert not _round_trip(broker, b"x" * (300 * 1024))


def test_every_broker_config_carries_the_limits() -> None:
    wanted = [line for line in LIMITS.read_text().splitlines() if line and line[0] != "#"]
    assert any(line.startswith("max_packet_size ") for line in wanted)
    compose = (ROOT / "deploy" / "compose" / "mosquitto.conf").read_text().splitlines()
    assert all(line in compose for line in wanted)
    assert (
        'cat "$INFRA/mosquitto-limits.conf" >>"$M_CONF"'
        in (ROOT / "infra" / "mosquitto.sh").read_text()
    )
