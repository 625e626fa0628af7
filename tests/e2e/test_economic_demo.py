"""The demo flow of `make dev`, through Envoy: the demo community seeded as `make dev`
seeds it (its services' OAuth clients, the community, a past month of official
distributor files and prices), then settled, approved and paid as its manager would,
the payout's pain.001 validated against the schema."""

from __future__ import annotations

import subprocess
import sys
import time
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree as ET

# scripts/ is on the path (conftest): the seeding `make dev` does, reused as it is.
import demo_community
import demo_official_data
import dev_seed
import httpx
import xmlschema
from cerc_sepa.credit_transfer import SCHEMA_FILE

from .conftest import E2E_DATABASE, ROOT, Fleet, fleet_script

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
COMMUNITY_IBAN = "IT60X0542811101000000123456"


def _settled(http: httpx.Client, headers: dict[str, str], cid: int, kind: str) -> dict[str, Any]:
    asked = http.post(
        "/api/economic/settlements/",
        json={"community_id": cid, "period": demo_official_data.DEMO_MONTH, "kind": kind},
        headers=headers,
    )
    assert asked.status_code == 202, asked.text
    run_id = asked.json()["data"]["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run: dict[str, Any] = http.get(
            f"/api/economic/settlements/{run_id}/", headers=headers
        ).json()["data"]
        if run["status"] in ("COMPLETED", "FAILED"):
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} never finished")


def test_the_demo_month_is_settled_approved_and_paid_through_the_gateway(fleet: Fleet) -> None:
    dev_seed.create_admin(fleet.ports, E2E_DATABASE)
    fleet_script.ensure_dev_clients(fleet.ports, E2E_DATABASE, dev_seed.DEMO_ADMIN[0])
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo_community.py"), "--gateway", fleet.gateway],
        check=True,
        cwd=ROOT,
    )
    cid = demo_official_data.seed(
        fleet.gateway, demo_official_data.DEMO_MONTH, fleet.ports, E2E_DATABASE
    )

    http = httpx.Client(base_url=fleet.gateway, timeout=60)
    login = http.post(
        "/api/auth/login/",
        json={"username": "demo-manager", "password": demo_community.PASSWORD},
    )
    headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}

    # Through the economic service's own client token to the energy service.
    estimate = _settled(http, headers, cid, "ESTIMATE")
    assert estimate["status"] == "COMPLETED", estimate["errors"]
    assert estimate["coverage"]["hours_by_source"].keys() == {"official"}
    provisional = _settled(http, headers, cid, "PROVISIONAL")
    assert provisional["status"] == "COMPLETED", provisional["errors"]
    assert Decimal(provisional["total_eur"]) > 0
    assert provisional["inputs_fingerprint"] == estimate["inputs_fingerprint"]

    approved = http.post(f"/api/economic/settlements/{provisional['id']}/approve/", headers=headers)
    assert approved.status_code == 200, approved.text
    final = approved.json()["data"]
    owed = {m["user_id"]: Decimal(m["eur"]) for m in final["members"] if Decimal(m["eur"]) > 0}
    assert owed

    account = http.put(
        "/api/economic/payouts/account/",
        json={"community_id": cid, "debtor_name": "CER Demo Bergamo", "iban": COMMUNITY_IBAN},
        headers=headers,
    )
    assert account.status_code == 200, account.text
    created = http.post("/api/economic/payouts/", json={"community_id": cid}, headers=headers)
    assert created.status_code == 201, created.text
    payout = created.json()["data"]
    paid = {t["user_id"]: Decimal(t["amount"]) for t in payout["transfers"]}
    left = {m["user_id"]: Decimal(m["amount"]) for m in payout["left_out"]}
    # Every demo member with a plant accepted their invitation with an IBAN.
    assert (paid, left) == (owed, {})

    download = http.get(payout["file_url"], headers=headers)
    assert download.status_code == 200
    xmlschema.XMLSchema(str(SCHEMA_FILE)).validate(download.text)
    root = ET.fromstring(download.content)  # noqa: S314 - validated just above
    info = root.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert info is not None
    assert info.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == COMMUNITY_IBAN
    amounts = sorted(
        Decimal(tx.findtext("p:Amt/p:InstdAmt", namespaces=NS) or "0")
        for tx in info.iterfind("p:CdtTrfTxInf", NS)
    )
    assert amounts == sorted(paid.values())

    # The internal routes stay inside: the gateway routes none of them.
    for path in (
        f"/internal/cer/communities/{cid}/payees/",
        f"/internal/energy/pod-hours/?community_id={cid}&month=2025-06",
    ):
        assert http.get(path, headers=headers).status_code == 404, path
