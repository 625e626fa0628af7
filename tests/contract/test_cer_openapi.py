from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from .openapi_fuzz import access_token, fuzz, start, stop


@pytest.fixture(scope="module")
def ports() -> Iterator[dict[str, int]]:
    yield start(["user", "cer"])
    stop()


def test_cer_service_openapi_has_no_5xx(ports: dict[str, int]) -> None:
    token = access_token(ports, "cer-fuzzer")
    base = f"http://127.0.0.1:{ports['CER_PORT']}"
    # A community the fuzzer administers, so generated ids reach real rows too.
    created = httpx.post(
        f"{base}/api/cer/",
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
    run = fuzz(base, token)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    # Prove the fuzzer exercised the API rather than finding nothing to call.
    assert "/api/plants/" in run.stdout and "passed" in run.stdout.lower()
