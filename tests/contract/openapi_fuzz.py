"""Fuzz the running services through the gateway with schemathesis: no input it
can generate may produce a 5xx (item 13 of issue 12).

The whole fleet runs as `make dev` runs it (scripts/fleet.py), Envoy in front,
on ports shifted by CONTRACT_PORT_OFFSET and with its own database; it is
started once for every fuzz test (the ``ports`` fixture in conftest.py). Each
service's OpenAPI document is read from the service itself (the gateway routes
the API, not the documents) and every generated request goes to the gateway
with a valid token, as a user's would: through the JWT check, the identity
header stripping, the body limits and the routes.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_PORT_OFFSET = 2000
CONTRACT_DATABASE = "cercollettiva_contract"
PASSWORD = "Correct-Horse-42"

sys.path.insert(0, str(ROOT / "scripts"))
import fleet  # noqa: E402


def start() -> dict[str, int]:
    subprocess.run(
        ["bash", str(ROOT / "infra/postgres/bootstrap-db.sh"), CONTRACT_DATABASE, "--recreate"],
        check=True,
        capture_output=True,
    )
    stop()
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/fleet.py"), "up",
         "--port-offset", str(CONTRACT_PORT_OFFSET), "--database", CONTRACT_DATABASE],
        check=True,
    )  # fmt: skip
    ports = fleet.read_ports(CONTRACT_PORT_OFFSET)
    _wait_for_token_acceptance(gateway(ports), access_token(ports, "fuzz-probe"))
    return ports


def stop() -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/fleet.py"), "down",
         "--port-offset", str(CONTRACT_PORT_OFFSET), "--end-bridge-session"],
        check=True,
    )  # fmt: skip


def gateway(ports: dict[str, int]) -> str:
    return f"http://127.0.0.1:{ports['GATEWAY_PORT']}"


def _wait_for_token_acceptance(base: str, token: str, timeout_s: float = 30) -> None:
    """Envoy fetches the JWKS in the background: wait until it accepts a token."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        me = httpx.get(f"{base}/api/users/me/", headers={"Authorization": f"Bearer {token}"})
        if me.status_code == 200:
            return
        time.sleep(0.3)
    raise RuntimeError("the gateway never accepted a valid token (JWKS fetch failing?)")


def login(ports: dict[str, int], username: str, password: str = PASSWORD) -> str:
    response = httpx.post(
        f"{gateway(ports)}/api/auth/login/", json={"username": username, "password": password}
    )
    response.raise_for_status()
    token: str = response.json()["data"]["access_token"]
    return token


def access_token(ports: dict[str, int], username: str = "fuzzer") -> str:
    httpx.post(
        f"{gateway(ports)}/api/auth/register/",
        json={"username": username, "email": f"{username}@example.it", "password": PASSWORD,
              "first_name": "Fuzz", "last_name": "Er"},
    )  # fmt: skip
    return login(ports, username)


def fuzz(
    ports: dict[str, int], service: str, token: str, *, max_examples: int = 30, paths: str = ""
) -> subprocess.CompletedProcess[str]:
    """Fuzz ``service``'s OpenAPI document through the gateway as ``token``'s holder
    (``paths``: only the operations whose path matches this regular expression)."""
    schema = f"http://127.0.0.1:{ports[f'{service.upper()}_PORT']}/openapi.json"
    only = ["--include-path-regex", paths] if paths else []
    return subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", schema,
         "--url", gateway(ports),
         # The gateway routes no /internal/ route (tests/e2e checks the 404s): through
         # it they are only 404s, and a user's token would meet their scope check anyway.
         "--exclude-path-regex", "^/internal/", *only,
         "--checks", "not_a_server_error",
         "--phases", "examples,coverage,fuzzing",
         "--max-examples", str(max_examples),
         "--seed", "20251127",
         "--header", f"Authorization: Bearer {token}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )  # fmt: skip


def assert_no_5xx(run: subprocess.CompletedProcess[str]) -> None:
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    # Prove the fuzzer exercised the API rather than finding nothing to call.
    assert re.search(r"Tested: [1-9]", run.stdout), run.stdout[-3000:]
    # The case count, for the record (pytest -s shows it): "1712 generated, ...".
    counted = re.search(r"Test cases:\s*\n\s*(.+)", run.stdout)
    print(f"\n{run.args[4]}: {counted.group(1) if counted else '?'}")
