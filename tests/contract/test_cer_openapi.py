from __future__ import annotations

import httpx

from .openapi_fuzz import access_token, assert_no_5xx, fuzz, gateway


def test_cer_service_openapi_has_no_5xx(ports: dict[str, int]) -> None:
    token = access_token(ports, "cer-fuzzer")
    # A community the fuzzer administers, so generated ids reach real rows too.
    created = httpx.post(
        f"{gateway(ports)}/api/cer/",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "name": "Fuzz CER",
            "code": "FUZZ1",
            "market_zone": "NORD",
            "distribution_shares": {
                "producers_pct": "50",
                "consumers_pct": "40",
                "community_fund_pct": "10",
            },
        },
    )
    assert created.status_code == 201, created.text
    run = fuzz(ports, "cer", token)
    assert_no_5xx(run)
    assert "/api/plants/" in run.stdout
