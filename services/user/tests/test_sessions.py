"""Login, rotation of refresh tokens, reuse detection, logout, lockout, password change."""

from __future__ import annotations

import httpx

from .conftest import STRONG_PASSWORD, bearer, register_and_login, registration


async def test_login_me_refresh_logout(client: httpx.AsyncClient) -> None:
    tokens = await register_and_login(client)
    me = await client.get("/api/users/me/", headers=bearer(tokens))
    assert me.status_code == 200 and me.json()["data"]["username"] == "mario"

    rotated = await client.post(
        "/api/auth/refresh/", json={"refresh_token": tokens["refresh_token"]}
    )
    assert rotated.status_code == 200
    new = rotated.json()["data"]
    assert new["refresh_token"] != tokens["refresh_token"]
    assert (await client.get("/api/users/me/", headers=bearer(new))).status_code == 200

    spent = await client.post("/api/auth/refresh/", json={"refresh_token": tokens["refresh_token"]})
    assert spent.status_code == 401
    assert spent.json()["errors"][0]["code"] == "invalid_refresh_token"

    # Reuse of a spent token revoked the whole family: the newest one is dead too.
    after_reuse = await client.post(
        "/api/auth/refresh/", json={"refresh_token": new["refresh_token"]}
    )
    assert after_reuse.status_code == 401


async def test_logout_revokes_refresh_token(client: httpx.AsyncClient) -> None:
    tokens = await register_and_login(client)
    out = await client.post(
        "/api/auth/logout/", json={"refresh_token": tokens["refresh_token"]}, headers=bearer(tokens)
    )
    assert out.status_code == 200
    again = await client.post("/api/auth/refresh/", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 401


async def test_logout_needs_a_token_and_ones_own_refresh_token(client: httpx.AsyncClient) -> None:
    mario = await register_and_login(client, "mario")
    luigi = await register_and_login(client, "luigi")
    anonymous = await client.post(
        "/api/auth/logout/", json={"refresh_token": mario["refresh_token"]}
    )
    assert anonymous.status_code == 401
    foreign = await client.post(
        "/api/auth/logout/", json={"refresh_token": mario["refresh_token"]}, headers=bearer(luigi)
    )
    assert foreign.status_code == 400
    still = await client.post("/api/auth/refresh/", json={"refresh_token": mario["refresh_token"]})
    assert still.status_code == 200


async def test_wrong_password_and_unknown_user_look_the_same(client: httpx.AsyncClient) -> None:
    await client.post("/api/auth/register/", json=registration("mario"))
    wrong = await client.post(
        "/api/auth/login/", json={"username": "mario", "password": "Nope-123456"}
    )
    unknown = await client.post("/api/auth/login/", json={"username": "nobody", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["errors"] == unknown.json()["errors"]


async def test_login_by_email(client: httpx.AsyncClient) -> None:
    await client.post("/api/auth/register/", json=registration("mario"))
    response = await client.post(
        "/api/auth/login/", json={"username": "MARIO@example.it", "password": STRONG_PASSWORD}
    )
    assert response.status_code == 200


async def test_password_change_ends_old_sessions(client: httpx.AsyncClient) -> None:
    tokens = await register_and_login(client)
    weak = await client.post(
        "/api/users/me/password/",
        json={"current_password": STRONG_PASSWORD, "new_password": "weak"},
        headers=bearer(tokens),
    )
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "new_password"
    wrong = await client.post(
        "/api/users/me/password/",
        json={"current_password": "Not-the-one-1", "new_password": "Brand-New-Pass-7"},
        headers=bearer(tokens),
    )
    assert wrong.status_code == 400
    changed = await client.post(
        "/api/users/me/password/",
        json={"current_password": STRONG_PASSWORD, "new_password": "Brand-New-Pass-7"},
        headers=bearer(tokens),
    )
    assert changed.status_code == 200
    refresh = await client.post(
        "/api/auth/refresh/", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 401
    old = await client.post(
        "/api/auth/login/", json={"username": "mario", "password": STRONG_PASSWORD}
    )
    assert old.status_code == 401
    new = await client.post(
        "/api/auth/login/", json={"username": "mario", "password": "Brand-New-Pass-7"}
    )
    assert new.status_code == 200
