"""Render the Envoy gateway config from gateway/envoy.yaml.tmpl.

    uv run python gateway/render.py --out .run/gateway/envoy.yaml            # local fleet
    uv run python gateway/render.py --target k8s --out deploy/k8s/base/gateway/envoy.yaml

Targets:
  local  listener 127.0.0.1:$GATEWAY_PORT, admin 127.0.0.1:$GATEWAY_ADMIN_PORT,
         upstreams 127.0.0.1:$<SERVICE>_PORT, all read from infra/ports.env;
         generous rate limits (dev and bench).
  k8s    listener 0.0.0.0:8080, health 8081, admin 127.0.0.1:9901, upstreams
         <service>:8000 (cluster DNS names, also the compose service names).

Every parameter can be overridden by an option or by the environment variable
CERC_GATEWAY_<PARAM> (option > environment > target default), e.g.
CERC_GATEWAY_USER_LIMIT=5. Standard library only: it runs before anything is
installed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "envoy.yaml.tmpl"

# The fleet, in the order of infra/services.txt. Adding a service means one
# line here, one cluster + route in the template, one folder in deploy/k8s.
SERVICES = ("user", "cer", "iot", "energy", "economic", "notification", "reporting")
# Upstreams that are not API services: the web app's static server.
UPSTREAMS = (*SERVICES, "web")

# The web app's Content-Security-Policy (scripts/web_server.py sets the same):
# scripts only from this origin, no inline script; styles may be inline
# because Mantine sets CSS variables and style attributes at run time.
WEB_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

# Numeric parameters: name -> help. Their defaults come from the target.
NUMERIC = {
    "listen_port": "HTTP listener port",
    "tls_port": "HTTPS listener port",
    "admin_port": "admin interface port (always bound to 127.0.0.1)",
    "health_port": "port of the listener that serves only GET /ready (0 = ephemeral)",
    "user_limit": "requests per user per window",
    "user_window": "per-user window, whole seconds",
    "address_limit": "requests per client address per window",
    "address_window": "per-address window, whole seconds",
    "max_dynamic_descriptors": "distinct users/addresses tracked (LRU size)",
    "max_body_bytes": "largest request body (413 beyond)",
    "upload_max_body_bytes": "largest request body under /api/cer/ and of a price import",
    "import_max_body_bytes": "largest declared body of a meter-file import (streamed)",
    "xff_trusted_hops": "trusted X-Forwarded-For hops in front of the gateway",
    "route_timeout": "upstream timeout, seconds",
    "auth_limit": "login and registration requests per client address per auth window",
    "auth_window": "login/registration window, whole seconds",
    "request_timeout": "whole-request timeout (headers and body), seconds",
    "max_heap_bytes": "overload manager: heap size at which Envoy sheds load",
    "max_connections": "overload manager: most open downstream connections",
    "hsts_max_age": "Strict-Transport-Security max-age, seconds",
    "live_timeout": "longest live stream (Server-Sent Events), seconds",
}
TEXT = {
    "listen_address": "address the listeners bind",
    "access_log_path": "JSON access log destination",
    "tls_cert": "certificate chain (PEM) of the HTTPS listener",
    "tls_key": "private key (PEM) of the HTTPS listener",
    "require_tls": "plain HTTP: NONE serves it, ALL only redirects to https",
    "upstream_host": "one host for every service (overrides per-service hosts)",
    "upstream_port": "one port for every service (overrides per-service ports)",
}

MIB = 1024 * 1024


def read_ports_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip().strip("'\"")
    return values


def dev_tls_directory() -> Path:
    """Where cerc_shared.dev_tls keeps the development CA (same rule)."""
    cache = os.environ.get("CERC_CACHE") or str(Path.home() / ".cache" / "cercollettiva")
    return Path(cache) / "tls"


def target_defaults(target: str, ports_env: Path) -> dict[str, str]:
    common = {
        "admin_address": "127.0.0.1",
        "max_body_bytes": str(1 * MIB),
        "upload_max_body_bytes": str(10 * MIB),
        # The energy service takes files up to 200 MiB (api/imports.py); 1 MiB more for the
        # multipart form around the file, so the service's 413 is the one that names the file.
        "import_max_body_bytes": str(201 * MIB),
        "xff_trusted_hops": "0",
        "route_timeout": "30",
        "live_timeout": "3600",
        "access_log_path": "/dev/stdout",
        "max_dynamic_descriptors": "10000",
        "web_csp": WEB_CSP,
    }
    if target == "local":
        ports = read_ports_env(ports_env)
        defaults = {
            **common,
            "listen_address": "127.0.0.1",
            "listen_port": ports["GATEWAY_PORT"],
            "tls_port": ports["GATEWAY_TLS_PORT"],
            # The development CA's gateway certificate (cerc_shared.dev_tls
            # creates it; the fleet makes sure it exists before rendering).
            "tls_cert": str(dev_tls_directory() / "gateway.crt"),
            "tls_key": str(dev_tls_directory() / "gateway.key"),
            "require_tls": "NONE",
            "admin_port": ports["GATEWAY_ADMIN_PORT"],
            # Locally readiness is read from the admin port itself.
            "health_port": ports.get("GATEWAY_HEALTH_PORT", "0"),
            # Generous: `make dev` and `make bench` must not trip them.
            "user_limit": "5000",
            "user_window": "1",
            "address_limit": "20000",
            "address_window": "1",
        }
        for svc in UPSTREAMS:
            defaults[f"{svc}_host"] = "127.0.0.1"
            defaults[f"{svc}_port"] = ports[f"{svc.upper()}_PORT"]
        return defaults
    if target == "k8s":
        defaults = {
            **common,
            "listen_address": "0.0.0.0",  # noqa: S104 - a pod listens on its own IP
            "listen_port": "8080",
            "tls_port": "8443",
            # cert-manager's Secret gateway-tls (deploy/k8s/base/tls), mounted.
            "tls_cert": "/etc/cerc/tls/tls.crt",
            "tls_key": "/etc/cerc/tls/tls.key",
            "require_tls": "ALL",
            "admin_port": "9901",
            "health_port": "8081",
            "user_limit": "20",
            "user_window": "1",
            "address_limit": "50",
            "address_window": "1",
        }
        for svc in UPSTREAMS:
            defaults[f"{svc}_host"] = svc
            defaults[f"{svc}_port"] = "8000"
        return defaults
    raise SystemExit(f"unknown target {target!r}")


def hardening_defaults(target: str) -> dict[str, str]:
    """Security limits, kept apart from the performance knobs above.

    Login and registration get their own per-address bucket: 10 a minute in
    Kubernetes. Locally the e2e tests and `make dev` register and log in many
    users from 127.0.0.1, so the local bucket is generous (the contract tests
    render a tight one to prove it works).
    """
    common = {
        "request_timeout": "120",
        "max_connections": "20000",
        "hsts_max_age": "63072000",
    }
    if target == "local":
        return {
            **common,
            "auth_limit": "5000",
            "auth_window": "60",
            "max_heap_bytes": str(1024 * MIB),
        }
    return {**common, "auth_limit": "10", "auth_window": "60", "max_heap_bytes": str(512 * MIB)}


def resolve(args: argparse.Namespace, environ: dict[str, str]) -> dict[str, str]:
    params = {
        **hardening_defaults(args.target),
        **target_defaults(args.target, Path(args.ports_env)),
    }
    for name in (*NUMERIC, *TEXT):
        env_value = environ.get(f"CERC_GATEWAY_{name.upper()}")
        opt_value = getattr(args, name)
        value = opt_value if opt_value is not None else env_value
        if value is not None and value != "":
            params[name] = str(value)
    if "upstream_host" in params:
        for svc in UPSTREAMS:
            params[f"{svc}_host"] = params["upstream_host"]
    if "upstream_port" in params:
        for svc in UPSTREAMS:
            params[f"{svc}_port"] = params["upstream_port"]
    if params["require_tls"] not in ("NONE", "ALL"):
        raise SystemExit(f"require_tls must be NONE or ALL, got {params['require_tls']!r}")
    for name in NUMERIC:
        if not params[name].isdigit():
            raise SystemExit(f"{name} must be a non-negative integer, got {params[name]!r}")
    at_least_one = (
        *("user_limit", "user_window", "address_limit", "address_window"),
        *("auth_limit", "auth_window", "request_timeout", "max_heap_bytes", "max_connections"),
    )
    for name in at_least_one:
        if int(params[name]) < 1:
            raise SystemExit(f"{name} must be at least 1")
    # Envoy's range_match excludes its end.
    params["import_max_body_bytes_end"] = str(int(params["import_max_body_bytes"]) + 1)
    params["jwks_authority"] = f"{params['user_host']}:{params['user_port']}"
    return params


def render(params: dict[str, str]) -> str:
    # substitute() (not safe_substitute) so a missing parameter is an error.
    return Template(TEMPLATE.read_text()).substitute(params)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=("local", "k8s"), default="local")
    parser.add_argument("--out", required=True, help="output file ('-' for stdout)")
    parser.add_argument("--ports-env", default=str(ROOT / "infra" / "ports.env"))
    for name, text in {**NUMERIC, **TEXT}.items():
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, help=text)
    args = parser.parse_args(argv)

    params = resolve(args, dict(os.environ))
    body = render(params)
    header = (
        f"# GENERATED by gateway/render.py --target {args.target} from gateway/envoy.yaml.tmpl.\n"
        "# Do not edit: change the template or the parameters and render again.\n"
    )
    if args.out == "-":
        sys.stdout.write(header + body)
    else:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(header + body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
