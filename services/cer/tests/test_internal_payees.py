"""``/internal/cer/communities/{id}/payees/``: members' IBANs for the economic service's
payouts, to a client token with registry:read-iban only."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt

from .conftest import IBAN, TOKENS, Users, add_member, auth, new_community


def client_token(scope: str, community_id: int | None = None) -> dict[str, str]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "client:economic",
        "token_use": "client",
        "scope": scope,
        "iss": TOKENS.issuer,
        "aud": TOKENS.audience,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    if community_id is not None:
        claims["community_id"] = community_id
    token = jwt.encode(claims, TOKENS.key, algorithm="RS256", headers={"kid": TOKENS.kid})
    return {"Authorization": f"Bearer {token}"}


async def test_payees_in_clear_for_the_iban_scope_only(
    client: httpx.AsyncClient, users: Users
) -> None:
    cid = (await new_community(client, 10))["id"]
    await users.register(20, "anna", first_name="Anna", last_name="Bianchi")
    await users.register(21, "bruno")
    await add_member(client, cid, 10, "anna")
    await add_member(client, cid, 10, "bruno", iban=None)
    path = f"/internal/cer/communities/{cid}/payees/"

    answer = await client.get(path, headers=client_token("registry:read-iban"))
    assert answer.status_code == 200, answer.text
    by_user = {p["user_id"]: p for p in answer.json()["data"]}
    assert by_user[20] == {"user_id": 20, "name": "Anna Bianchi", "iban": IBAN}
    assert by_user[21]["iban"] is None
    assert 10 in by_user  # the founder (ADMIN) is a member too

    for headers, status in (
        (client_token("registry:read energy:read"), 403),  # a partner's scopes never reach IBANs
        (auth(10), 403),  # even the community's admin, with a user token
        ({}, 401),
        (client_token("registry:read-iban", community_id=cid + 1), 404),
    ):
        refused = await client.get(path, headers=headers)
        assert refused.status_code == status, refused.text
        assert IBAN not in refused.text
    missing = await client.get(
        f"/internal/cer/communities/{cid + 1000}/payees/",
        headers=client_token("registry:read-iban"),
    )
    assert missing.status_code == 404
