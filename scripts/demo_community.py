"""Build the demo community through the gateway API, as a manager would.

    uv run python scripts/demo_community.py [--gateway http://127.0.0.1:18080]

Registers the demo users, creates "CER Demo Bergamo" (zone NORD) with two
primary substations, producers, consumers, prosumers, a public body (the
comune) and an enterprise, uploads a statute, and prints the demo logins.
Idempotent: what exists already is left as it is, so a second run changes
nothing. Needs the fleet and the gateway (`make dev`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import httpx
from schwifty import IBAN
from stdnum.it import codicefiscale

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Demo-Community-2025"  # noqa: S105 - a published demo login, not a secret
CODE = "DEMO-BERGAMO"
SUBSTATIONS = ("AC001E00101", "AC001E00102")
# An enterprise's partita IVA with a valid check digit.
ENTERPRISE_VAT = "00743110157"
PUBLIC_BODY_VAT = "00223770165"

# username, first, last, user type, membership facts
PEOPLE: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("demo-manager", "Giulia", "Manager", "PRIVATE", {}),
    ("demo-anna", "Anna", "Bianchi", "PRIVATE", {"cf": "BNCNNA80A41A794"}),
    ("demo-bruno", "Bruno", "Verdi", "PRIVATE", {"cf": "VRDBRN75C12A794"}),
    ("demo-carla", "Carla", "Neri", "PRIVATE", {"cf": "NRECRL90E50A794"}),
    ("demo-dario", "Dario", "Galli", "PRIVATE", {"cf": "GLLDRA68H15A794"}),
    ("demo-comune", "Comune", "di Bergamo", "BUSINESS",
     {"member_type": "ENTERPRISE", "body_type": "LOCAL_AUTHORITY", "vat": PUBLIC_BODY_VAT}),
    ("demo-officina", "Officina", "Rossi Srl", "BUSINESS",
     {"member_type": "ENTERPRISE", "vat": ENTERPRISE_VAT}),
    ("demo-viewer", "Vera", "Revisore", "PRIVATE", {"role": "VIEWER"}),
]  # fmt: skip

# owner, POD, type, substation, kW, technology
PLANTS: list[tuple[str, str, str, int, str, str | None]] = [
    ("demo-bruno", "IT012E00100001", "CONSUMER", 0, "4.50", None),
    ("demo-dario", "IT012E00100002", "CONSUMER", 0, "6.00", None),
    ("demo-anna", "IT012E00100003", "PRODUCER", 0, "19.80", "PV"),
    ("demo-comune", "IT012E00100004", "PROSUMER", 0, "60.00", "PV"),
    ("demo-carla", "IT012E00200001", "PROSUMER", 1, "8.40", "PV"),
    ("demo-officina", "IT012E00200002", "CONSUMER", 1, "45.00", None),
    ("demo-officina", "IT012E00200003", "PRODUCER", 1, "199.00", "PV"),
    ("demo-comune", "IT012E00200004", "CONSUMER", 1, "15.00", None),
]


def gateway_from_ports() -> str:
    for line in (ROOT / "infra" / "ports.env").read_text().splitlines():
        if line.startswith("GATEWAY_PORT="):
            return f"http://127.0.0.1:{line.split('=', 1)[1].strip()}"
    raise SystemExit("GATEWAY_PORT missing from infra/ports.env")


def tax_code(base: str) -> str:
    # Made-up people with a real check character (python-stdnum computes it).
    return base + codicefiscale.calc_check_digit(base)


def iban(account: int) -> str:
    return str(IBAN.generate("IT", bank_code="05428", branch_code="11101",
                             account_code=f"{account:012d}").compact)  # fmt: skip


class Demo:
    def __init__(self, gateway: str) -> None:
        self.http = httpx.Client(base_url=gateway, timeout=15)
        self.tokens: dict[str, str] = {}
        self.ids: dict[str, int] = {}

    def check(self, response: httpx.Response, *ok: int) -> dict[str, Any]:
        if response.status_code not in ok:
            raise SystemExit(f"{response.request.method} {response.request.url}: "
                             f"{response.status_code} {response.text}")  # fmt: skip
        body: dict[str, Any] = response.json()
        return body

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def user(self, username: str, first: str, last: str, user_type: str) -> None:
        self.check(
            self.http.post("/api/auth/register/", json={
                "username": username, "email": f"{username}@demo.cercollettiva.it",
                "password": PASSWORD, "first_name": first, "last_name": last,
                "user_type": user_type}),
            201, 409,
        )  # fmt: skip
        login = self.check(
            self.http.post("/api/auth/login/", json={"username": username, "password": PASSWORD}),
            200,
        )
        self.tokens[username] = login["data"]["access_token"]
        me = self.check(self.http.get("/api/users/me/", headers=self.auth(username)), 200)
        self.ids[username] = me["data"]["id"]

    def community(self) -> int:
        mine = self.check(
            self.http.get("/api/cer/?per_page=100", headers=self.auth("demo-manager")), 200
        )
        for cer in mine["data"]:
            if cer["code"] == CODE:
                return int(cer["id"])
        created = self.check(
            self.http.post("/api/cer/", headers=self.auth("demo-manager"), json={
                "name": "CER Demo Bergamo", "code": CODE, "market_zone": "NORD",
                "description": "Comunità energetica dimostrativa: due cabine primarie.",
                "distribution_shares": {"valid_from": "2025-01-01", "producers_pct": "55",
                                        "consumers_pct": "35", "community_fund_pct": "10"}}),
            201,
        )  # fmt: skip
        return int(created["data"]["id"])

    def member(self, cid: int, username: str, facts: dict[str, Any], account: int) -> None:
        """Invite the person's e-mail as the manager; accept as the person, with
        their own facts (nobody joins a community without consenting)."""
        known = self.http.get(
            f"/api/cer/{cid}/members/{self.ids[username]}/", headers=self.auth("demo-manager")
        )
        if known.status_code == 200 and known.json()["data"]["is_active"]:
            return
        terms = {
            "email": f"{username}@demo.cercollettiva.it",
            "role": facts.get("role", "MEMBER"),
            "member_type": facts.get("member_type", "PRIVATE"),
            "body_type": facts.get("body_type", "NONE"),
            "joined_on": "2025-01-01",
        }
        own: dict[str, Any] = {}
        if "cf" in facts:
            own["tax_code"] = tax_code(facts["cf"])
        if "vat" in facts:
            own["vat_number"] = facts["vat"]
        if terms["role"] == "MEMBER":
            own["iban"] = iban(account)
        sent = self.check(
            self.http.post(
                f"/api/cer/{cid}/invitations/", headers=self.auth("demo-manager"), json=terms
            ),
            202,
        )
        invitation_id = sent["data"]["invitation_id"]
        # The CER service learns of new users (and their e-mail) from user.v1: give it a moment.
        deadline = time.monotonic() + 30
        while True:
            mine = self.check(
                self.http.get("/api/cer/invitations/mine/", headers=self.auth(username)), 200
            )
            if invitation_id in [i["invitation_id"] for i in mine["data"]]:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"the invitation to {username} never reached them")
            time.sleep(0.5)
        self.check(
            self.http.post(
                f"/api/cer/invitations/{invitation_id}/accept/",
                headers=self.auth(username),
                json=own,
            ),
            201,
        )

    def plant(self, cid: int, spec: tuple[str, str, str, int, str, str | None]) -> None:
        owner, pod, kind, substation, power, technology = spec
        body = {
            "cer_id": cid, "owner_user_id": self.ids[owner], "name": f"{kind.title()} {pod[-4:]}",
            "pod": pod, "plant_type": kind, "nominal_power_kw": power, "technology": technology,
            "entry_into_service": "2024-03-01" if technology else None,
            "address": f"Via Demo {pod[-2:]}", "city": "Bergamo", "province": "BG",
            "region": "Lombardia", "zip_code": "24121", "latitude": "45.69800000",
            "longitude": "9.67700000", "primary_substation": SUBSTATIONS[substation],
            "market_zone": "NORD", "capital_grant_eur_per_kw": "0", "connection_voltage": "BT",
            "valid_from": "2025-01-01",
        }  # fmt: skip
        response = self.http.post("/api/plants/", headers=self.auth("demo-manager"), json=body)
        if response.status_code == 409:
            return  # already registered: a second run changes nothing
        self.check(response, 201)

    def statute(self, cid: int) -> None:
        summary = self.check(
            self.http.get(f"/api/cer/{cid}/", headers=self.auth("demo-manager")), 200
        )
        if summary["data"]["documents"]["statute"]:
            return
        pdf = b"%PDF-1.4\n% CER Demo Bergamo: statuto (demo)\n%%EOF\n"
        self.check(
            self.http.put(f"/api/cer/{cid}/documents/statute/", headers=self.auth("demo-manager"),
                          files={"file": ("statuto.pdf", pdf, "application/pdf")}),
            200,
        )  # fmt: skip


# The GSE simulator's development client (tools/gse_sim): a published dev key.
GSE_DEV_CLIENT = ("cerc_referente_dev", "cerc_referente_dev_secret")


def gse_credentials(demo: Demo, cid: int) -> None:
    """Give the demo community the simulator's client, so its GSE worker talks to
    the simulator. The economic service learns of the community through Kafka, so
    it may answer 404 for a moment; the demo goes on without it if it never does."""
    client_id, secret = GSE_DEV_CLIENT
    body = {"community_id": cid, "client_id": client_id, "client_secret": secret}
    status = 0
    for _ in range(30):
        status = demo.http.put(
            "/api/economic/gse/credentials/", json=body, headers=demo.auth("demo-manager")
        ).status_code
        if status == 200:
            print("GSE: the demo community uses the simulator's development client")
            return
        time.sleep(1)
    print(f"GSE: credentials not set ({status}); PUT /api/economic/gse/credentials/ later")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway", default=None, help="gateway base URL (default: ports.env)")
    args = parser.parse_args()
    demo = Demo(args.gateway or gateway_from_ports())
    for username, first, last, user_type, _ in PEOPLE:
        demo.user(username, first, last, user_type)
    cid = demo.community()
    for account, (username, _, _, _, facts) in enumerate(PEOPLE[1:], start=1):
        demo.member(cid, username, facts, account)
    for spec in PLANTS:
        demo.plant(cid, spec)
    demo.statute(cid)
    gse_credentials(demo, cid)
    summary = demo.check(demo.http.get(f"/api/cer/{cid}/", headers=demo.auth("demo-manager")), 200)
    data = summary["data"]
    print(f"Demo community {data['name']} (id {cid}, code {CODE}): "
          f"{data['members_count']} members, {data['plants_count']} plants, "
          f"{data['total_power']} kW of production")  # fmt: skip
    for s in data["power_by_substation"]:
        print(f"  substation {s['primary_substation']}: {s['plants_count']} plants, "
              f"{s['total_power']} kW")  # fmt: skip
    print(f"Demo logins (password {PASSWORD}):")
    for username, first, last, _, facts in PEOPLE:
        role = "ADMIN" if username == "demo-manager" else facts.get("role", "MEMBER")
        print(f"  {username:<15} {role:<7} {first} {last}")


if __name__ == "__main__":
    main()
