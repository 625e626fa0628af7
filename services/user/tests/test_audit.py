"""The user service's audit trail (issue 12, item 11): logins that succeed,
fail (wrong password, wrong one-time code, unknown name) or are throttled, and
what a platform administrator changes of an account; each with the request's
correlation id, read back by platform administrators only, paged."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import STRONG_PASSWORD, bearer, register_and_login, registration
from .test_users import _admin_tokens

ATTACKER = {"x-cerc-client-address": "203.0.113.66"}


async def _trail(
    client: httpx.AsyncClient, admin: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    answer = await client.get("/api/users/audit/", params=params, headers=bearer(admin))
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["data"]
    return entries


async def test_logins_are_audited_with_the_request_id(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await client.post("/api/auth/register/", json=registration("mario"))
    me = (await client.post("/api/auth/login/", json={"username": "mario",
          "password": STRONG_PASSWORD}, headers={"x-request-id": "req-ok"})).json()  # fmt: skip
    assert "access_token" in me["data"]
    for n in range(3):  # the third failure starts a wait (test settings)
        failed = await client.post(
            "/api/auth/login/", json={"username": "mario", "password": "Wrong-pass-1"},
            headers={**ATTACKER, "x-request-id": f"req-bad-{n}"},
        )  # fmt: skip
        assert failed.status_code == 401
    throttled = await client.post(
        "/api/auth/login/", json={"username": "mario", "password": STRONG_PASSWORD},
        headers={**ATTACKER, "x-request-id": "req-throttled"},
    )  # fmt: skip
    assert throttled.status_code == 429
    unknown = await client.post(
        "/api/auth/login/", json={"username": "nessuno", "password": "Wrong-pass-1"},
        headers={"x-request-id": "req-unknown"},
    )  # fmt: skip
    assert unknown.status_code == 401

    admin = await _admin_tokens(client, sessionmaker)
    logins = [e for e in await _trail(client, admin, per_page=100)
              if e["action"].startswith("login.")]  # fmt: skip
    by_request = {e["correlation_id"]: e for e in logins}
    ok = by_request["req-ok"]
    assert (ok["action"], ok["entity_type"]) == ("login.succeeded", "user")
    assert ok["actor_user_id"] == int(ok["entity_id"])
    assert by_request["req-bad-0"]["action"] == "login.failed"
    assert by_request["req-bad-0"]["after"]["reason"] == "credentials"
    assert by_request["req-bad-0"]["after"]["address"] == "203.0.113.66"
    assert by_request["req-bad-0"]["after"]["blocked_for_s"] is None
    assert by_request["req-bad-2"]["after"]["blocked_for_s"] == 30
    assert by_request["req-throttled"]["action"] == "login.throttled"
    stranger = by_request["req-unknown"]
    assert (stranger["action"], stranger["entity_type"], stranger["entity_id"]) == (
        "login.failed", "login", "nessuno",
    )  # fmt: skip
    assert stranger["actor_user_id"] is None

    failures = await client.get(
        "/api/users/audit/", params={"action": "login.failed", "per_page": 2},
        headers=bearer(admin),
    )  # fmt: skip
    assert failures.status_code == 200
    assert len(failures.json()["data"]) == 2 and failures.json()["meta"]["total"] == 4


async def test_user_administration_is_audited_and_the_trail_is_for_platform_admins(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    member = await register_and_login(client, "anna")
    anna = (await client.get("/api/users/me/", headers=bearer(member))).json()["data"]
    admin = await _admin_tokens(client, sessionmaker)
    root = (await client.get("/api/users/me/", headers=bearer(admin))).json()["data"]
    deactivated = await client.patch(
        f"/api/users/{anna['id']}/", json={"is_active": False},
        headers={**bearer(admin), "x-request-id": "req-deactivate"},
    )  # fmt: skip
    assert deactivated.status_code == 200, deactivated.text

    [entry] = await _trail(client, admin, action="user.updated")
    assert entry["entity_id"] == str(anna["id"]) and entry["actor_user_id"] == root["id"]
    assert (entry["before"], entry["after"]) == ({"is_active": True}, {"is_active": False})
    assert entry["correlation_id"] == "req-deactivate"

    other = await register_and_login(client, "bruno")
    refused = await client.get("/api/users/audit/", headers=bearer(other))
    assert refused.status_code == 403, refused.text
