"""The whole fleet, started as `make dev` starts it but on ports shifted by
E2E_PORT_OFFSET and with its own database, so a running `make dev` is not
disturbed. Tests talk to it through Envoy, as a user would."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cerc_shared.dev_tls import ensure_dev_pki
from cerc_shared.settings import namespaced

ROOT = Path(__file__).resolve().parents[2]
E2E_PORT_OFFSET = 1000
E2E_DATABASE = "cercollettiva_e2e"
STRONG_PASSWORD = "Correct-Horse-42"

sys.path.insert(0, str(ROOT / "scripts"))
import fleet as fleet_script  # noqa: E402


def device_tls() -> ssl.SSLContext:
    """How a device connects: MQTT over TLS, trusting the development CA."""
    return ssl.create_default_context(cafile=ensure_dev_pki().ca)


@dataclass(frozen=True)
class Fleet:
    ports: dict[str, int]

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['GATEWAY_PORT']}"

    def topic(self, name: str) -> str:
        """The Kafka topic as this fleet names it (see ServiceSettings.kafka_namespace)."""
        return namespaced(fleet_script.kafka_namespace(E2E_DATABASE), name)

    def service_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[f'{name.upper()}_PORT']}"

    def run(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "fleet.py"), *args,
             "--port-offset", str(E2E_PORT_OFFSET)],
            check=True,
        )  # fmt: skip


@pytest.fixture(scope="session")
def fleet() -> Iterator[Fleet]:
    subprocess.run(
        ["bash", str(ROOT / "infra" / "postgres" / "bootstrap-db.sh"), E2E_DATABASE, "--recreate"],
        check=True,
    )
    running = Fleet(ports=fleet_script.read_ports(E2E_PORT_OFFSET))
    running.run("down")
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fleet.py"), "up",
         "--port-offset", str(E2E_PORT_OFFSET), "--database", E2E_DATABASE],
        check=True,
    )  # fmt: skip
    try:
        wait_for_token_acceptance(running)
        yield running
    finally:
        running.run("down", "--end-bridge-session")


def wait_for_token_acceptance(fleet: Fleet, timeout_s: float = 30) -> None:
    """Envoy fetches the JWKS in the background: wait until it accepts a token."""
    user = register_and_login(fleet, "e2e-probe")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if httpx.get(f"{fleet.gateway}/api/users/me/", headers=bearer(user)).status_code == 200:
            return
        time.sleep(0.3)
    raise RuntimeError("the gateway never accepted a valid token (JWKS fetch failing?)")


def register(fleet: Fleet, name: str, **extra: object) -> httpx.Response:
    body = {
        "username": name,
        "email": f"{name}@example.it",
        "password": STRONG_PASSWORD,
        "first_name": name.title(),
        "last_name": "Test",
        **extra,
    }
    return httpx.post(f"{fleet.gateway}/api/auth/register/", json=body)


def login(fleet: Fleet, name: str, **extra: object) -> httpx.Response:
    body = {"username": name, "password": STRONG_PASSWORD, **extra}
    return httpx.post(f"{fleet.gateway}/api/auth/login/", json=body)


def register_and_login(fleet: Fleet, name: str) -> dict[str, str]:
    created = register(fleet, name)
    assert created.status_code in (201, 409), created.text
    response = login(fleet, name)
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()["data"]
    return tokens


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}
