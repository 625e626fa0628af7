"""Fuzz a running service through its own OpenAPI document with schemathesis:
no input it can generate may produce a 5xx.

The service runs as `make dev` runs it (scripts/fleet.py), on ports shifted by
CONTRACT_PORT_OFFSET and with its own database, together with the user service
that issues the token the fuzzer sends.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_PORT_OFFSET = 2000
CONTRACT_DATABASE = "cercollettiva_contract"
PASSWORD = "Correct-Horse-42"

sys.path.insert(0, str(ROOT / "scripts"))
import fleet  # noqa: E402


def start(services: list[str]) -> dict[str, int]:
    subprocess.run(
        ["bash", str(ROOT / "infra/postgres/bootstrap-db.sh"), CONTRACT_DATABASE, "--recreate"],
        check=True,
        capture_output=True,
    )
    stop()
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/fleet.py"), "up", "--no-gateway",
         "--only", ",".join(services), "--port-offset", str(CONTRACT_PORT_OFFSET),
         "--database", CONTRACT_DATABASE],
        check=True,
    )  # fmt: skip
    return fleet.read_ports(CONTRACT_PORT_OFFSET)


def stop() -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/fleet.py"), "down",
         "--port-offset", str(CONTRACT_PORT_OFFSET)],
        check=True,
    )  # fmt: skip


def access_token(ports: dict[str, int], username: str = "fuzzer") -> str:
    base = f"http://127.0.0.1:{ports['USER_PORT']}/api/auth"
    httpx.post(
        f"{base}/register/",
        json={"username": username, "email": f"{username}@example.it", "password": PASSWORD,
              "first_name": "Fuzz", "last_name": "Er"},
    )  # fmt: skip
    response = httpx.post(f"{base}/login/", json={"username": username, "password": PASSWORD})
    response.raise_for_status()
    token: str = response.json()["data"]["access_token"]
    return token


def fuzz(base_url: str, token: str, *, max_examples: int = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{base_url}/openapi.json",
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
