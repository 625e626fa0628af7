"""``/internal/energy/pod-hours/``: the economic service's input, for client tokens only."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
from energy_service.timeseries import EnergyPoint, InfluxTimeSeries

from .conftest import TOKENS, ReadModels, auth
from .test_aggregations import register

PATH = "/internal/energy/pod-hours/"
COMMUNITY, OTHER = 9401, 9402


def client_token(scope: str, community_id: int | None = None) -> dict[str, str]:
    now = int(time.time())
    claims = {
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


async def test_hours_per_pod_with_their_source_for_a_scoped_client_only(
    client: httpx.AsyncClient, store: InfluxTimeSeries, read_models: ReadModels
) -> None:
    await read_models.member(9001, COMMUNITY, role="ADMIN")
    plant = await register(read_models, 9001, "AC001E01234", community=COMMUNITY)
    at = datetime(2025, 6, 5, 8, 0, tzinfo=UTC)
    await store.write(
        [
            EnergyPoint(
                plant, "m1", "iot", at + timedelta(minutes=15 * q), {"energy_fed_in_kwh": 0.5}
            )
            for q in range(1, 5)
        ]
    )
    params = {"community_id": COMMUNITY, "month": "2025-06"}
    answer = await client.get(PATH, params=params, headers=client_token("energy:read"))
    assert answer.status_code == 200, answer.text
    body = answer.json()["data"]
    assert body["official_complete"] is False
    (pod,) = body["pods"]
    assert pod["plant_id"] == plant
    assert [(h["fed_in_kwh"], h["source"]) for h in pod["hours"]] == [(2.0, "iot")]

    assert (await client.get(PATH, params=params, headers=auth(9001, "ADMIN"))).status_code == 403
    wrong = await client.get(PATH, params=params, headers=client_token("registry:read"))
    assert wrong.status_code == 403
    partner = await client.get(PATH, params=params, headers=client_token("energy:read", OTHER))
    assert partner.status_code == 404
    bad = await client.get(
        PATH, params={**params, "month": "2025-13"}, headers=client_token("energy:read")
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "month"
