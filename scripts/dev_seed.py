"""Load the demo data into the running `make dev` fleet and say where to look.

Idempotent: running it again changes nothing. The credentials are development
credentials, printed on purpose.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cerc_shared.dev_tls import ensure_dev_pki

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import fleet  # noqa: E402

# Development credentials for the demo platform administrator.
DEMO_ADMIN = ("admin", "admin@cercollettiva.example", "Demo-Admin-2025!")


def create_admin(ports: dict[str, int], database: str = fleet.DEV_DATABASE) -> None:
    user = next(s for s in fleet.FLEET if s.name == "user")
    env = fleet.service_env(user, ports, database)
    subprocess.run(
        [sys.executable, "-m", "user_service.cli", "create-admin",
         "--username", DEMO_ADMIN[0], "--email", DEMO_ADMIN[1]],
        input=DEMO_ADMIN[2] + "\n", text=True, env=env, cwd=ROOT, check=True,
    )  # fmt: skip


def main() -> None:
    ports = fleet.read_ports(0)
    create_admin(ports)
    # The services' own OAuth clients (development secrets, in scripts/fleet.py).
    fleet.ensure_dev_clients(ports, fleet.DEV_DATABASE, DEMO_ADMIN[0])
    gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
    # The demo year of zonal prices (and a TRASe marked DEMO ONLY where the engine has none).
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo_prices.py"), "--gateway", gateway,
         "--username", DEMO_ADMIN[0], "--password", DEMO_ADMIN[2]],
        check=True, cwd=ROOT,
    )  # fmt: skip
    ca = ensure_dev_pki().ca
    extra = ROOT / "scripts" / "demo_community.py"
    if extra.exists():
        subprocess.run([sys.executable, str(extra), "--gateway", gateway], check=True, cwd=ROOT)
        # A past month of official data and prices: the demo can be settled, approved, paid.
        official = ROOT / "scripts" / "demo_official_data.py"
        subprocess.run([sys.executable, str(official), "--gateway", gateway], check=True, cwd=ROOT)
    print(
        f"""
CerCollettiva is running.
  web app              {gateway}/   (demo-manager, demo-anna, ... / Demo-Community-2025)
  gateway (REST API)   {gateway}/api/
  gateway over HTTPS   https://localhost:{ports["GATEWAY_TLS_PORT"]}/api/
  devices (MQTT, TLS)  mqtts://localhost:{ports["MQTT_TLS_PORT"]}
  development CA       {ca}  (curl --cacert, mosquitto_pub --cafile)
  user service docs    http://127.0.0.1:{ports["USER_PORT"]}/docs
  gateway admin        http://127.0.0.1:{ports["GATEWAY_ADMIN_PORT"]}/
  platform admin       {DEMO_ADMIN[0]} / {DEMO_ADMIN[2]}   (development credentials)
  mail (SMTP sink)     smtp://127.0.0.1:{ports["SMTP_PORT"]}, read: uv run python -m smtp_sink list
  GSE simulator        http://127.0.0.1:{ports["GSE_SIM_PORT"]}/docs (tools/gse_sim/README.md)
  demo settlement      month 2025-06 of CER Demo Bergamo: official data and prices loaded
                       (POST /api/economic/settlements/ as demo-manager, then approve, pay)
  logs                 .run/fleet/*.log, .run/<server>/
Try:
  curl -s -X POST {gateway}/api/auth/login/ -H 'content-type: application/json' \\
       -d '{{"username": "{DEMO_ADMIN[0]}", "password": "{DEMO_ADMIN[2]}"}}'
Stop with `make stop` (fleet) and `make infra-down` (servers)."""
    )


if __name__ == "__main__":
    main()
