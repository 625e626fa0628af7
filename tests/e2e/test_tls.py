"""The fleet over TLS, as a browser and a device reach it: the gateway's
HTTPS listener and Mosquitto's TLS listener, both with the development CA
(cerc_shared.dev_tls), and nothing for a client that does not trust it."""

from __future__ import annotations

import ssl

import httpx
import pytest
from cerc_shared.dev_tls import ensure_dev_pki

from .conftest import Fleet, bearer, register_and_login


def test_a_user_signs_in_and_is_served_over_https(fleet: Fleet) -> None:
    https = f"https://localhost:{fleet.ports['GATEWAY_TLS_PORT']}"
    user = register_and_login(fleet, "e2e-https")
    trusting = ssl.create_default_context(cafile=ensure_dev_pki().ca)
    with httpx.Client(base_url=https, verify=trusting, timeout=10) as client:
        me = client.get("/api/users/me/", headers=bearer(user))
    assert me.status_code == 200, me.text
    assert me.json()["data"]["username"] == "e2e-https"
    assert me.headers["strict-transport-security"].startswith("max-age=")
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{https}/api/users/me/", headers=bearer(user), timeout=5)
