from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from user_service import service
from user_service.models import outbox

from .conftest import STRONG_PASSWORD, bearer, register_and_login


async def _admin_tokens(
    client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession]
) -> dict[str, str]:
    async with maker() as session:
        await service.ensure_admin(
            session, username="root", email="root@example.it", password=STRONG_PASSWORD
        )
        await session.commit()
    response = await client.post(
        "/api/auth/login/", json={"username": "root", "password": STRONG_PASSWORD}
    )
    assert response.status_code == 200
    data: dict[str, str] = response.json()["data"]
    return data


async def test_profile_update_publishes_what_changed(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tokens = await register_and_login(client)
    await register_and_login(client, "luigi")
    taken = await client.patch(
        "/api/users/me/", json={"email": "luigi@example.it"}, headers=bearer(tokens)
    )
    assert taken.status_code == 409 and taken.json()["errors"][0]["field"] == "email"
    changed = await client.patch(
        "/api/users/me/",
        json={"first_name": "Maria", "user_type": "BUSINESS"},
        headers=bearer(tokens),
    )
    assert changed.status_code == 200
    assert changed.json()["data"]["first_name"] == "Maria"
    no_admin = await client.patch(
        "/api/users/me/", json={"user_type": "ADMIN"}, headers=bearer(tokens)
    )
    assert no_admin.status_code == 422
    async with sessionmaker() as session:
        rows = (
            await session.execute(select(outbox.c.type, outbox.c.envelope).order_by(outbox.c.id))
        ).all()
    updates = [r.envelope["data"] for r in rows if r.type == "user.updated"]
    assert len(updates) == 1
    assert updates[0]["changed"] == ["first_name", "user_type"]
    assert updates[0]["user_type"] == "BUSINESS"


async def test_user_list_is_for_platform_admins_with_pagination(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], app: FastAPI
) -> None:
    member = await register_and_login(client, "mario")
    for name in ("anna", "bruno", "carla"):
        await register_and_login(client, name)
    forbidden = await client.get("/api/users/", headers=bearer(member))
    assert forbidden.status_code == 403
    admin = await _admin_tokens(client, sessionmaker)
    page = await client.get("/api/users/?page=2&per_page=2", headers=bearer(admin))
    assert page.status_code == 200
    body = page.json()
    assert body["meta"] == {"page": 2, "per_page": 2, "total": 5}
    assert [u["username"] for u in body["data"]] == ["bruno", "carla"]
    filtered = await client.get("/api/users/?user_type=ADMIN", headers=bearer(admin))
    assert [u["username"] for u in filtered.json()["data"]] == ["root"]
    too_big = await client.get("/api/users/?per_page=1000", headers=bearer(admin))
    assert too_big.status_code == 422 and too_big.json()["errors"][0]["field"] == "per_page"


async def test_deactivated_user_cannot_log_in_or_refresh(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tokens = await register_and_login(client)
    me = (await client.get("/api/users/me/", headers=bearer(tokens))).json()["data"]
    admin = await _admin_tokens(client, sessionmaker)
    off = await client.patch(
        f"/api/users/{me['id']}/", json={"is_active": False}, headers=bearer(admin)
    )
    assert off.status_code == 200 and off.json()["data"]["is_active"] is False
    refresh = await client.post(
        "/api/auth/refresh/", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 401
    login = await client.post(
        "/api/auth/login/", json={"username": "mario", "password": STRONG_PASSWORD}
    )
    assert login.status_code == 403
    missing = await client.get("/api/users/999999/", headers=bearer(admin))
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "not_found"


async def test_user_ids_beyond_a_bigint_are_refused_not_a_500(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await _admin_tokens(client, sessionmaker)
    for path in (f"/api/users/{2**63}/", "/api/users/0/"):
        answer = await client.get(path, headers=bearer(admin))
        assert answer.status_code == 422, (path, answer.status_code)
        assert answer.json()["errors"][0]["field"] == "user_id"
        patched = await client.patch(path, json={"is_active": False}, headers=bearer(admin))
        assert patched.status_code == 422


async def test_the_profile_is_read_as_stored_and_a_user_gone_is_not_found(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """GET /me/ reads the row in one statement (no ORM): every field of the
    profile, two-factor from the stored secret, 404 once the row is gone."""
    tokens = await register_and_login(client)
    me = await client.get("/api/users/me/", headers=bearer(tokens))
    assert me.status_code == 200 and me.headers["content-type"] == "application/json"
    data = me.json()["data"]
    assert set(data) == {
        "id", "username", "email", "first_name", "last_name", "user_type", "is_active", "language",
        "two_factor_enabled", "created_at", "updated_at",
    }  # fmt: skip
    assert (data["username"], data["email"], data["two_factor_enabled"]) == (
        "mario",
        "mario@example.it",
        False,
    )
    async with sessionmaker() as session:
        await session.execute(
            text("UPDATE users SET totp_secret = 'sealed' WHERE id = :id"), {"id": data["id"]}
        )
        await session.commit()
    again = (await client.get("/api/users/me/", headers=bearer(tokens))).json()["data"]
    assert again["two_factor_enabled"] is True
    async with sessionmaker() as session:
        await session.execute(text("DELETE FROM users WHERE id = :id"), {"id": data["id"]})
        await session.commit()
    gone = await client.get("/api/users/me/", headers=bearer(tokens))
    assert gone.status_code == 404 and gone.json()["errors"][0]["code"] == "not_found"


async def test_an_accounts_status_travels_alone_on_its_own_topic(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # Every service reads user-status.v1 to refuse deactivated users; what it
    # carries must not include the person's facts (e-mail, names).
    tokens = await register_and_login(client)
    me = (await client.get("/api/users/me/", headers=bearer(tokens))).json()["data"]
    admin = await _admin_tokens(client, sessionmaker)
    await client.patch("/api/users/me/", json={"first_name": "Maria"}, headers=bearer(tokens))
    for active in (False, True):
        answer = await client.patch(
            f"/api/users/{me['id']}/", json={"is_active": active}, headers=bearer(admin)
        )
        assert answer.status_code == 200
    async with sessionmaker() as session:
        rows = (
            await session.execute(select(outbox.c.topic, outbox.c.envelope).order_by(outbox.c.id))
        ).all()
    statuses = [
        r.envelope["data"]
        for r in rows
        if r.topic.endswith("user-status.v1") and r.envelope["data"]["user_id"] == me["id"]
    ]
    # Deactivated, reactivated; registering and renaming announce no status.
    assert [s["is_active"] for s in statuses] == [False, True]
    assert all(set(s) == {"type", "version", "user_id", "is_active"} for s in statuses)

    # Seeding the topic announces the deactivated accounts again, and only them.
    await client.patch(f"/api/users/{me['id']}/", json={"is_active": False}, headers=bearer(admin))
    async with sessionmaker() as session, session.begin():
        assert await service.publish_statuses(session) == 1
