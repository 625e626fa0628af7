from __future__ import annotations

from collections.abc import Iterator

import pytest

from .openapi_fuzz import access_token, fuzz, start, stop


@pytest.fixture(scope="module")
def ports() -> Iterator[dict[str, int]]:
    yield start(["user"])
    stop()


def test_user_service_openapi_has_no_5xx(ports: dict[str, int]) -> None:
    token = access_token(ports)
    run = fuzz(f"http://127.0.0.1:{ports['USER_PORT']}", token)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    # Prove the fuzzer actually exercised the API rather than finding nothing to call.
    assert "/api/auth/register/" in run.stdout and "passed" in run.stdout.lower()
