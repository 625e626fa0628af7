"""Identity through the gateway, as a user would meet it: Envoy in front of the
real user service, real PostgreSQL, real Kafka."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .conftest import (
    ROOT,
    Fleet,
    bearer,
    login,
    register,
    register_and_login,
)


def test_account_lifecycle(fleet: Fleet) -> None:
    created = register(fleet, "anna")
    assert created.status_code == 201, created.text
    tokens = register_and_login(fleet, "anna")
    me = httpx.get(f"{fleet.gateway}/api/users/me/", headers=bearer(tokens))
    assert me.status_code == 200 and me.json()["data"]["username"] == "anna"
    assert me.headers["x-request-id"]

    rotated = httpx.post(
        f"{fleet.gateway}/api/auth/refresh/", json={"refresh_token": tokens["refresh_token"]}
    )
    assert rotated.status_code == 200
    fresh = rotated.json()["data"]
    old = httpx.post(
        f"{fleet.gateway}/api/auth/refresh/", json={"refresh_token": tokens["refresh_token"]}
    )
    assert old.status_code == 401

    relogin = register_and_login(fleet, "anna")
    out = httpx.post(
        f"{fleet.gateway}/api/auth/logout/",
        json={"refresh_token": relogin["refresh_token"]},
        headers=bearer(relogin),
    )
    assert out.status_code == 200
    after = httpx.post(
        f"{fleet.gateway}/api/auth/refresh/", json={"refresh_token": relogin["refresh_token"]}
    )
    assert after.status_code == 401
    # The reuse of anna's first token revoked that family, the logout the second.
    assert (
        httpx.post(
            f"{fleet.gateway}/api/auth/refresh/", json={"refresh_token": fresh["refresh_token"]}
        ).status_code
        == 401
    )


def test_two_factor_through_the_gateway(fleet: Fleet) -> None:
    tokens = register_and_login(fleet, "bianca")
    setup = httpx.post(f"{fleet.gateway}/api/auth/2fa/setup/", headers=bearer(tokens))
    assert setup.status_code == 200
    totp = pyotp.TOTP(setup.json()["data"]["secret"])
    confirm = httpx.post(
        f"{fleet.gateway}/api/auth/2fa/confirm/", json={"otp": totp.now()}, headers=bearer(tokens)
    )
    assert confirm.status_code == 200
    needs_code = login(fleet, "bianca")
    assert needs_code.status_code == 401
    assert needs_code.json()["errors"][0]["code"] == "otp_required"
    code = totp.at(datetime.now(UTC) + timedelta(seconds=30))
    assert login(fleet, "bianca", otp=code).status_code == 200


DEV_KEY = ROOT / ".run" / "user" / "jwt-dev-only.pem"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_forged_tokens_stop_at_the_gateway(fleet: Fleet) -> None:
    tokens = register_and_login(fleet, "carlo")
    header, payload, signature = tokens["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    forged = {
        "tampered": ".".join([header, _b64({**claims, "user_type": "ADMIN"}), signature]),
        "alg none": ".".join([_b64({"alg": "none", "typ": "JWT"}), payload, ""]),
        "other key": jwt.encode(
            {**claims, "exp": now + timedelta(minutes=5)}, other_key, "RS256", {"kid": kid}
        ),
        # Signed with the fleet's real development key, but an hour old.
        "expired": jwt.encode(
            {**claims, "iat": now - timedelta(hours=2), "exp": now - timedelta(hours=1)},
            serialization.load_pem_private_key(DEV_KEY.read_bytes(), password=None),
            "RS256",
            {"kid": kid},
        ),
    }
    for name, token in forged.items():
        response = httpx.get(
            f"{fleet.gateway}/api/users/me/", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, name
    assert httpx.get(f"{fleet.gateway}/api/users/me/").status_code == 401
    assert httpx.get(f"{fleet.gateway}/api/users/").status_code == 401


def test_client_identity_headers_never_reach_the_service(fleet: Fleet) -> None:
    carla = register_and_login(fleet, "carla")
    register_and_login(fleet, "dario")
    headers = {
        **bearer(carla),
        "x-cerc-user-id": "1",
        "x-cerc-user-type": "ADMIN",
        "x-user-id": "1",
    }
    me = httpx.get(f"{fleet.gateway}/api/users/me/", headers=headers)
    assert me.status_code == 200 and me.json()["data"]["username"] == "carla"
    admin_only = httpx.get(f"{fleet.gateway}/api/users/", headers=headers)
    assert admin_only.status_code == 403


def test_bad_input_through_the_gateway(fleet: Fleet) -> None:
    missing = httpx.post(f"{fleet.gateway}/api/auth/register/", json={"username": "eva"})
    assert missing.status_code == 422
    fields = {e["field"] for e in missing.json()["errors"]}
    assert {"email", "password", "first_name", "last_name"} <= fields
    huge = httpx.post(
        f"{fleet.gateway}/api/auth/register/",
        content=b'{"username": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    assert login(fleet, "eva").status_code == 401  # nothing was written


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def strict_gateway(fleet: Fleet, tmp_path: Path) -> Iterator[str]:
    """A second Envoy in front of the same fleet with a tiny per-user limit."""
    ports_file = tmp_path / "ports.env"
    ports_file.write_text("".join(f"{k}={v}\n" for k, v in fleet.ports.items()))
    listen, admin = _free_port(), _free_port()
    config = tmp_path / "envoy.yaml"
    subprocess.run(
        [sys.executable, str(ROOT / "gateway" / "render.py"), "--out", str(config),
         "--ports-env", str(ports_file), "--listen-port", str(listen), "--admin-port", str(admin),
         "--user-limit", "5", "--user-window", "2", "--access-log-path", str(tmp_path / "a.log")],
        check=True,
    )  # fmt: skip
    envoy = Path(sys.executable).parent / "envoy"
    proc = subprocess.Popen(
        [str(envoy), "-c", str(config), "--disable-hot-restart", "--log-level", "warn"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{admin}/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError("the strict gateway did not become ready")
        yield f"http://127.0.0.1:{listen}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_rate_limit_answers_429_then_recovers(fleet: Fleet, strict_gateway: str) -> None:
    tokens = register_and_login(fleet, "fabio")
    url = f"{strict_gateway}/api/users/me/"
    deadline = time.monotonic() + 20
    while httpx.get(url, headers=bearer(tokens)).status_code == 401:  # JWKS not fetched yet
        assert time.monotonic() < deadline, "strict gateway never accepted the token"
        time.sleep(0.3)
    time.sleep(2.1)  # a fresh window
    statuses = [httpx.get(url, headers=bearer(tokens)).status_code for _ in range(12)]
    assert statuses.count(429) >= 5 and statuses[0] == 200
    other = register_and_login(fleet, "gina")  # another user is not throttled by fabio's burst
    assert httpx.get(url, headers=bearer(other)).status_code == 200
    time.sleep(2.1)
    assert httpx.get(url, headers=bearer(tokens)).status_code == 200


def test_registration_survives_a_stopped_broker(fleet: Fleet) -> None:
    """The outbox: with Kafka down a registration succeeds; when Kafka is back
    `user.registered` arrives, once."""
    import asyncio

    from aiokafka import AIOKafkaConsumer

    kafka = ["bash", str(ROOT / "infra" / "kafka.sh")]
    # The e2e database is new each run, the broker's topics are not: ids repeat
    # across runs, so the event is told apart by a name only this run uses.
    username = f"outbox-{uuid.uuid4().hex[:10]}"
    subprocess.run([*kafka, "stop"], check=True)
    try:
        created = register(fleet, username)
        assert created.status_code == 201, created.text
        user_id = created.json()["data"]["id"]
    finally:
        subprocess.run([*kafka, "start"], check=True)

    async def consume() -> list[dict[str, object]]:
        consumer = AIOKafkaConsumer(
            fleet.topic("user.v1"),
            bootstrap_servers=f"127.0.0.1:{fleet.ports['KAFKA_PORT']}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        found: list[dict[str, object]] = []
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        envelope = json.loads(record.value or b"{}")
                        data = envelope["data"]
                        if data.get("user_id") == user_id and data.get("username") == username:
                            found.append(envelope)
                if found and not batch:
                    break
        finally:
            await consumer.stop()
        return found

    events = asyncio.run(consume())
    assert [e["type"] for e in events] == ["user.registered"]
    assert events[0]["key"] == str(user_id)
