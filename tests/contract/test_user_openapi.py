from __future__ import annotations

from .openapi_fuzz import access_token, assert_no_5xx, fuzz


def test_user_service_openapi_has_no_5xx(ports: dict[str, int]) -> None:
    run = fuzz(ports, "user", access_token(ports))
    assert_no_5xx(run)
    assert "/api/auth/register/" in run.stdout
