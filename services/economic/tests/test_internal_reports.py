"""``/internal/economic/reports/...``: the runs and transactions the reporting
service renders, for a client token with economic:read only."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt

from .conftest import TOKENS, EnergyStandIn, auth
from .test_settlements import MONTH, demo_community, settle_through_api

PATH = "/internal/economic/reports/settlements/"


def client_token(scope: str, community_id: int | None = None) -> dict[str, str]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "client:reporting",
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


async def test_the_reported_run_is_the_final_one_with_every_members_cents(
    client: httpx.AsyncClient, maker: Any, energy: tuple[EnergyStandIn, int]
) -> None:
    c, _, _ = await demo_community(maker, energy[0], official=True)
    estimate = await settle_through_api(client, c, "ESTIMATE")
    params = {"community_id": c.id, "period": MONTH}
    answer = await client.get(PATH, params=params, headers=client_token("economic:read"))
    assert answer.status_code == 200, answer.text
    (reported,) = answer.json()["data"]
    assert (reported["run_id"], reported["kind"]) == (estimate["id"], "ESTIMATE")

    provisional = await settle_through_api(client, c, "PROVISIONAL")
    approved = await client.post(
        f"/api/economic/settlements/{provisional['id']}/approve/", headers=auth(c.admin)
    )
    assert approved.status_code == 200, approved.text
    final = approved.json()["data"]
    # The year asked for: the month's FINAL run, whatever ran after or before.
    answer = await client.get(
        PATH, params={**params, "period": MONTH[:4]}, headers=client_token("economic:read")
    )
    (reported,) = answer.json()["data"]
    assert (reported["run_id"], reported["kind"]) == (final["id"], "FINAL")
    cents = {m["user_id"]: m["cents"] for m in reported["members"]}
    assert cents == {m["user_id"]: round(float(m["eur"]) * 100) for m in final["members"]}
    assert sum(cents.values()) + reported["community_cents"] == reported["total_cents"]
    assert reported["parameters"]["distribution"]

    # A user's token, another scope, a partner of another community: refused.
    assert (await client.get(PATH, params=params, headers=auth(c.admin))).status_code == 403
    wrong = await client.get(PATH, params=params, headers=client_token("energy:read"))
    assert wrong.status_code == 403
    partner = await client.get(PATH, params=params, headers=client_token("economic:read", c.id + 1))
    assert partner.status_code == 404
    txs = await client.get(
        "/internal/economic/reports/transactions/",
        params={"community_id": c.id, "year": 2024},
        headers=client_token("economic:read"),
    )
    assert txs.status_code == 200 and isinstance(txs.json()["data"], list)
