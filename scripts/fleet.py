"""Start, stop and inspect the fleet natively: services, the gateway and helpers.

    uv run python scripts/fleet.py up [--only user,cer] [--port-offset N] [--database DB]
    uv run python scripts/fleet.py down [--port-offset N] [--end-bridge-session]
    uv run python scripts/fleet.py status [--port-offset N]

`make dev` uses it with the ports of infra/ports.env; the end-to-end tests use
it with a port offset and their own database, so both can run at once. Each
process runs in the background with its log and pid file in .run/fleet[-N]/.
The local servers (`make infra-up`) must already run. CERC_FLEET_WORKERS sets
the uvicorn worker processes per service (default 1).

Adding a service: one entry in FLEET below (and its gateway route).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cerc_shared.bus_acl import development_password
from cerc_shared.dev_tls import DevPki, default_directory, ensure_dev_pki

ROOT = Path(__file__).resolve().parent.parent
PORTS_ENV = ROOT / "infra" / "ports.env"
DEV_DATABASE = "cercollettiva"
SERVICE_NAMES = ROOT.joinpath("infra", "services.txt").read_text().split()


@dataclass(frozen=True)
class Service:
    name: str
    package: str
    migrate: bool = True
    # Extra settings, without the CERC_<NAME>_ prefix; values may use {PORT_NAME}.
    env: dict[str, str] = field(default_factory=dict)
    # Further processes of the same service (e.g. the MQTT bridge), each run as
    # `python -m <module>` with the same environment.
    workers: tuple[str, ...] = ()
    # The Kafka principal of the workers when not the service's (cerc_shared.bus_acl).
    worker_principal: str = ""


FLEET: tuple[Service, ...] = (
    Service(name="user", package="user_service"),
    Service(
        name="cer", package="cer_service", env={"STORAGE_DIR": ".run/cer-documents-{CER_PORT}"}
    ),
    # Its InfluxDB bucket is "<database>/autogen", created at start in development.
    Service(
        name="energy",
        package="energy_service",
        env={
            "INFLUX_URL": "http://127.0.0.1:{INFLUX_PORT}",
            "INFLUX_TOKEN": "cerc:cerc_influx_dev",
            "INFLUX_ENSURE_BUCKET": "true",
        },
    ),
    # Settles community months; reads the energy service's internal API and the
    # CER service's IBANs with its own client-credentials token (DEV_CLIENTS).
    # Settles community months; reads the energy service's internal API; talks
    # to the GSE (its simulator, started with the local servers).
    Service(
        name="economic",
        package="economic_service",
        env={
            "ENERGY_URL": "http://127.0.0.1:{ENERGY_PORT}",
            "CER_URL": "http://127.0.0.1:{CER_PORT}",
            "TOKEN_URL": "http://127.0.0.1:{USER_PORT}/api/auth/token/",
            "CLIENT_ID": "cerc-dev-economic",
            "CLIENT_SECRET": "cerc-economic-dev-only-client-secret",  # DEVELOPMENT KEY
            "GSE_URL": "http://127.0.0.1:{GSE_SIM_PORT}",
        },
    ),
    # The bridge is its own process; its share group and client id follow the
    # port so the dev and e2e fleets never take each other's messages.
    Service(
        name="iot",
        package="iot_service",
        env={
            "MQTT_HOST": "127.0.0.1",
            "MQTT_PORT": "{MQTT_PORT}",
            # Devices are told the TLS listener; the bridge stays on loopback plain.
            "MQTT_PUBLIC_PORT": "{MQTT_TLS_PORT}",
            # ...and sent the development CA to trust it by.
            "MQTT_PUBLIC_CA_FILE": str(DevPki(default_directory()).ca),
            "BRIDGE_SHARE_GROUP": "cerc-bridge-{IOT_PORT}",
            "BRIDGE_CLIENT_ID": "cerc-bridge-{IOT_PORT}-0",
        },
        workers=("iot_service.bridge",),
        worker_principal="bridge",
    ),
    # Mails go to the local SMTP sink (tools/smtp_sink, started by make infra-up).
    Service(
        name="notification",
        package="notification_service",
        env={"SMTP_HOST": "127.0.0.1", "SMTP_PORT": "{SMTP_PORT}"},
    ),
    # Reads energy's and economic's internal routes with its own client token
    # (the client must be registered with energy:read and economic:read); files in .run.
    Service(
        name="reporting",
        package="reporting_service",
        env={
            "ENERGY_URL": "http://127.0.0.1:{ENERGY_PORT}",
            "ECONOMIC_URL": "http://127.0.0.1:{ECONOMIC_PORT}",
            "TOKEN_URL": "http://127.0.0.1:{USER_PORT}/api/auth/token/",
            "CLIENT_ID": "cerc-dev-reporting",
            "CLIENT_SECRET": "cerc-reporting-dev-only-client-secret",  # DEVELOPMENT KEY
            "STORAGE_DIR": ".run/reports-{REPORTING_PORT}",
        },
    ),
)


@dataclass(frozen=True)
class DevClient:
    """A service's OAuth 2.0 client in a development fleet: its id and secret are
    fixed development keys the service is configured with (FLEET), registered at
    the user service by `ensure_dev_clients` once a platform admin exists."""

    service: str
    scopes: tuple[str, ...]

    def credentials(self) -> tuple[str, str]:
        svc = next(s for s in FLEET if s.name == self.service)
        return svc.env["CLIENT_ID"], svc.env["CLIENT_SECRET"]


DEV_CLIENTS: tuple[DevClient, ...] = (
    DevClient("economic", ("energy:read", "registry:read-iban")),
    DevClient("reporting", ("energy:read", "economic:read")),
)


def ensure_dev_clients(ports: dict[str, int], database: str, admin_username: str) -> None:
    user = next(s for s in FLEET if s.name == "user")
    env = service_env(user, ports, database)
    for client in DEV_CLIENTS:
        client_id, secret = client.credentials()
        scopes = [arg for scope in client.scopes for arg in ("--scope", scope)]
        subprocess.run(
            [sys.executable, "-m", "user_service.cli", "ensure-client", "--admin",
             admin_username, "--client-id", client_id, "--name", f"{client.service} service",
             *scopes],
            input=secret + "\n", text=True, env=env, cwd=ROOT, check=True,
        )  # fmt: skip


def read_ports(offset: int) -> dict[str, int]:
    ports = {}
    for raw in PORTS_ENV.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            ports[key] = int(value)
    # Only what the fleet itself listens on moves; the local servers stay.
    moving = {
        *("GATEWAY_PORT", "GATEWAY_TLS_PORT", "GATEWAY_ADMIN_PORT", "WEB_PORT"),
        *(f"{n.upper()}_PORT" for n in SERVICE_NAMES),
    }
    return {k: v + offset if k in moving else v for k, v in ports.items()}


def run_dir(offset: int) -> Path:
    return ROOT / ".run" / (f"fleet-{offset}" if offset else "fleet")


def kafka_namespace(database: str) -> str:
    """Every fleet on this broker (dev, e2e, contract, bench) and the service
    tests, which use the plain names, keep their topics and consumer groups
    apart: a fleet's namespace is its database. Deployments use plain names."""
    return database


def service_env(
    svc: Service, ports: dict[str, int], database: str, principal: str = ""
) -> dict[str, str]:
    """The service's settings; ``principal``: its Kafka principal when not its name."""
    prefix = f"CERC_{svc.name.upper()}_"
    principal = principal or svc.name
    # Development keys (see infra/postgres.sh); production reads real secrets.
    values = {
        "ENVIRONMENT": "development",
        "DATABASE_URL": f"postgresql+asyncpg://{svc.name}_svc:{svc.name}_dev@127.0.0.1:"
        f"{ports['PG_PORT']}/{database}",
        # The authenticated listener, as the service's own principal: the bus
        # lets it write only the topics it owns (infra/kafka.sh, bus_acl).
        "KAFKA_BOOTSTRAP": f"127.0.0.1:{ports['KAFKA_SASL_PORT']}",
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_USERNAME": principal,
        "KAFKA_SASL_PASSWORD": development_password(principal),
        "JWKS_URL": f"http://127.0.0.1:{ports['USER_PORT']}/api/auth/jwks/",
        "KAFKA_NAMESPACE": kafka_namespace(database),
    }
    values.update({k: v.format(**ports) for k, v in svc.env.items()})
    return {**os.environ, **{prefix + k: v for k, v in values.items()}}


def grant_bus_access(namespace: str) -> None:
    """The principals' ACLs on this fleet's topics and groups (idempotent)."""
    subprocess.run(["bash", str(ROOT / "infra" / "kafka.sh"), "grant", namespace], check=True)


def _pid_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None


def _spawn(name: str, argv: list[str], env: dict[str, str], where: Path) -> None:
    pid_file = where / f"{name}.pid"
    if _pid_alive(pid_file):
        print(f"  {name}: already running")
        return
    log = open(where / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it open
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    pid_file.write_text(str(proc.pid))
    print(f"  {name}: started (pid {proc.pid}, log {where / (name + '.log')})")


def _wait_http(url: str, name: str, where: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        if not _pid_alive(where / f"{name}.pid"):
            break
        time.sleep(0.3)
    tail = (where / f"{name}.log").read_text(errors="replace").splitlines()[-25:]
    raise SystemExit(f"{name} is not ready at {url} ({last}); last log lines:\n" + "\n".join(tail))


def up(only: set[str] | None, offset: int, database: str, gateway: bool) -> None:
    ports = read_ports(offset)
    where = run_dir(offset)
    where.mkdir(parents=True, exist_ok=True)
    chosen = [s for s in FLEET if only is None or s.name in only]
    grant_bus_access(kafka_namespace(database))
    for svc in chosen:
        env = service_env(svc, ports, database)
        if svc.migrate:
            ini = ROOT / "services" / svc.name / "alembic.ini"
            subprocess.run(
                [sys.executable, "-m", "alembic", "-c", str(ini), "upgrade", "head"],
                env=env,
                check=True,
            )
        port = ports[f"{svc.name.upper()}_PORT"]
        _spawn(
            svc.name,
            [sys.executable, "-m", "uvicorn", "--factory", f"{svc.package}.main:app",
             "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
             # Longer than the gateway's idle timeout (60 s): Envoy closes first.
             "--timeout-keep-alive", "75",
             "--workers", os.environ.get("CERC_FLEET_WORKERS", "1")],
            env,
            where,
        )  # fmt: skip
        worker_env = service_env(svc, ports, database, svc.worker_principal)
        for module in svc.workers:
            _spawn(
                f"{svc.name}-{module.rsplit('.', 1)[-1]}",
                [sys.executable, "-m", module],
                worker_env,
                where,
            )
    for svc in chosen:
        _wait_http(f"http://127.0.0.1:{ports[f'{svc.name.upper()}_PORT']}/readyz", svc.name, where)
    if gateway:
        # The web app's static server (web/dist, built by `make web`), served
        # by the gateway at `/`; it answers 503 until the app is built.
        _spawn(
            "web",
            [sys.executable, str(ROOT / "scripts" / "web_server.py"),
             "--root", str(ROOT / "web" / "dist"), "--port", str(ports["WEB_PORT"])],
            dict(os.environ),
            where,
        )  # fmt: skip
        _wait_http(f"http://127.0.0.1:{ports['WEB_PORT']}/healthz", "web", where)
        ensure_dev_pki()  # the HTTPS listener's certificate
        ports_file = where / "ports.env"
        ports_file.write_text("".join(f"{k}={v}\n" for k, v in ports.items()))
        config = where / "envoy.yaml"
        subprocess.run(
            [sys.executable, str(ROOT / "gateway" / "render.py"), "--out", str(config),
             "--ports-env", str(ports_file),
             "--access-log-path", str(where / "gateway-access.log")],
            check=True,
        )  # fmt: skip
        envoy = str(Path(sys.executable).parent / "envoy")
        _spawn(
            "gateway",
            [envoy, "-c", str(config), "--log-level", "warn", "--disable-hot-restart"],
            dict(os.environ),
            where,
        )  # fmt: skip
        _wait_http(f"http://127.0.0.1:{ports['GATEWAY_ADMIN_PORT']}/ready", "gateway", where)


def down(offset: int) -> None:
    where = run_dir(offset)
    for pid_file in sorted(where.glob("*.pid")):
        pid = _pid_alive(pid_file)
        if pid:
            os.killpg(pid, signal.SIGTERM)
            for _ in range(50):
                if not _pid_alive(pid_file):
                    break
                time.sleep(0.1)
            else:
                os.killpg(pid, signal.SIGKILL)
            print(f"  {pid_file.stem}: stopped")
        pid_file.unlink(missing_ok=True)


# The bridge's MQTT account: development key (infra/mosquitto.sh).
BRIDGE_ACCOUNT = ("cerc_bridge", "cerc_bridge_dev")


def end_bridge_session(offset: int) -> None:
    """End a stopped fleet's bridge session for good, by connecting with its
    client id and a clean session. For throwaway fleets (tests, benchmarks):
    left in Mosquitto, their session would queue every device message anyone
    publishes afterwards, up to max_queued_messages, and the broker saves its
    whole store every 30 s and routes nothing while it does. The dev fleet
    (`make stop`) keeps its session: its devices' readings wait for it."""
    ports = read_ports(offset)
    iot = next(svc for svc in FLEET if svc.name == "iot")
    client_id = iot.env["BRIDGE_CLIENT_ID"].format(**ports)
    user, password = BRIDGE_ACCOUNT
    ended = subprocess.run(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(ports["MQTT_PORT"]), "-u", user,
         "-P", password, "-i", client_id, "-t", "cerc/_infra/ready/session-end", "-E",
         "-W", "10"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if ended.returncode != 0:
        raise SystemExit(f"could not end the bridge session {client_id}: {ended.stderr.strip()}")
    print(f"  bridge session {client_id}: ended")


def status(offset: int) -> None:
    where = run_dir(offset)
    for pid_file in sorted(where.glob("*.pid")):
        pid = _pid_alive(pid_file)
        print(f"  {pid_file.stem}: {f'running (pid {pid})' if pid else 'stopped'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--only", help="comma-separated services (default: all)")
    parser.add_argument("--port-offset", type=int, default=0)
    parser.add_argument("--database", default=DEV_DATABASE)
    parser.add_argument("--no-gateway", action="store_true")
    parser.add_argument(
        "--end-bridge-session",
        action="store_true",
        help="down: also end the bridge's MQTT session (throwaway fleets)",
    )
    args = parser.parse_args()
    if args.command == "up":
        only = set(args.only.split(",")) if args.only else None
        up(only, args.port_offset, args.database, gateway=not args.no_gateway)
    elif args.command == "down":
        down(args.port_offset)
        if args.end_bridge_session:
            end_bridge_session(args.port_offset)
    else:
        status(args.port_offset)


if __name__ == "__main__":
    main()
