"""The fleet for the cross-tenant matrix: every service and the gateway, started
as `make dev` starts them (scripts/fleet.py) on ports shifted by
SECURITY_PORT_OFFSET and with its own database, so neither `make dev` nor the
e2e fleet is disturbed. The other tests here need only the local servers and
do not ask for it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECURITY_PORT_OFFSET = 6000
SECURITY_DATABASE = "cercollettiva_security"

sys.path.insert(0, str(ROOT / "scripts"))
import fleet as fleet_script  # noqa: E402


def _fleet(*args: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fleet.py"), *args,
         "--port-offset", str(SECURITY_PORT_OFFSET)],
        check=True,
    )  # fmt: skip


@pytest.fixture(scope="session")
def security_fleet() -> Iterator[dict[str, int]]:
    """The running fleet's ports (GATEWAY_PORT is where the matrix talks)."""
    subprocess.run(
        ["bash", str(ROOT / "infra" / "postgres" / "bootstrap-db.sh"), SECURITY_DATABASE,
         "--recreate"],
        check=True,
    )  # fmt: skip
    _fleet("down")
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fleet.py"), "up",
         "--port-offset", str(SECURITY_PORT_OFFSET), "--database", SECURITY_DATABASE],
        check=True,
    )  # fmt: skip
    try:
        yield fleet_script.read_ports(SECURITY_PORT_OFFSET)
    finally:
        _fleet("down", "--end-bridge-session")
