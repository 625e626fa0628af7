"""The events reach real Kafka through the outbox: once per change, in order
per plant, and enough to rebuild the same registry in another consumer.

This test commits (its own database, cerc_test_cer_events) so the relay has
something to publish; its events are told apart from everyone else's on the
shared topics by the correlation ids it sends.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from cer_service.main import create_app
from cer_service.settings import CerSettings
from cerc_shared.auth import StaticKeys, TokenVerifier
from cerc_shared.testing import prepare_database
from fastapi import FastAPI

from .conftest import (
    IBAN,
    KID,
    SERVICE_DIR,
    SIGNING_KEY,
    TAX_CODE,
    Users,
    auth,
    community_body,
    plant_body,
)

TOPICS = ("cer.v1", "membership.v1", "plant.v1", "invitation.v1")


@pytest.fixture(scope="module")
async def committing_app(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[FastAPI]:
    dsn = prepare_database("cer", "cerc_test_cer_events", SERVICE_DIR)
    settings = CerSettings(
        database_url=dsn,
        environment="test",
        consume_users=False,
        outbox_poll_interval_s=0.05,
        storage_dir=str(tmp_path_factory.mktemp("documents")),
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        application.state.token_verifier = TokenVerifier(
            StaticKeys({KID: SIGNING_KEY.public_key()}),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        yield application


async def _collect(run: str, expected: int, timeout_s: float = 60) -> list[dict[str, Any]]:
    """Every envelope of this run on the three topics, in partition order."""
    consumer = AIOKafkaConsumer(
        *TOPICS,
        bootstrap_servers="127.0.0.1:19092",
        group_id=f"cer-events-test-{run}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    found: list[dict[str, Any]] = []
    await consumer.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        settle_until: float | None = None
        while loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            for tp, records in batches.items():
                for record in records:
                    envelope = json.loads(record.value or b"{}")
                    if (envelope.get("correlation_id") or "").startswith(run):
                        envelope["_partition"] = (tp.topic, tp.partition)
                        envelope["_record_key"] = (record.key or b"").decode()
                        found.append(envelope)
            # Reached the count: keep reading a little longer to catch duplicates.
            if len(found) >= expected and settle_until is None:
                settle_until = loop.time() + 2
            if settle_until is not None and loop.time() >= settle_until:
                break
    finally:
        await consumer.stop()
    return found


async def test_events_arrive_once_in_order_and_rebuild_the_registry(
    committing_app: FastAPI,
) -> None:
    run = f"evt-{uuid.uuid4().hex[:12]}"
    step = 0

    def headers(user_id: int) -> dict[str, str]:
        nonlocal step
        step += 1
        return {**auth(user_id), "x-request-id": f"{run}-{step}"}

    users = Users(committing_app.state.sessionmaker)
    base = int(uuid.uuid4().int % 10**9) * 10
    founder, anna, bruno = base + 1, base + 2, base + 3
    await users.register(anna, f"anna-{run}")
    await users.register(bruno, f"bruno-{run}")
    transport = httpx.ASGITransport(app=committing_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cer") as client:

        async def call(method: str, path: str, user: int, **kwargs: Any) -> dict[str, Any]:
            response = await client.request(method, path, headers=headers(user), **kwargs)
            assert response.status_code < 300, response.text
            data: dict[str, Any] = response.json()["data"]
            return data

        cid = (await call("POST", "/api/cer/", founder, json=community_body(run.upper())))["id"]
        # Both join by invitation: anna finds hers signed in, bruno follows the mailed link.
        anna_email, bruno_typed = f"anna-{run}@example.it", f"Bruno-{run}@Example.IT"
        since = {"joined_on": "2025-01-01"}
        await call("POST", f"/api/cer/{cid}/invitations/", founder,
                   json={"email": anna_email, **since})  # fmt: skip
        await call("POST", f"/api/cer/{cid}/invitations/", founder,
                   json={"email": bruno_typed, "role": "VIEWER", **since})  # fmt: skip
        mine = await client.get("/api/cer/invitations/mine/", headers=headers(anna))
        [invitation] = mine.json()["data"]
        await call("POST", f"/api/cer/invitations/{invitation['invitation_id']}/accept/", anna,
                   json={"tax_code": TAX_CODE, "iban": IBAN})  # fmt: skip
        sent = [
            e["data"] for e in await _collect(run, expected=5) if e["type"] == "invitation.created"
        ]
        # What the mailer needs: the address as typed and the link; nothing of the account.
        assert sorted(e["email"] for e in sent) == sorted([anna_email, bruno_typed])
        assert all("user_id" not in e for e in sent)
        [to_bruno] = [e for e in sent if e["email"] == bruno_typed]
        assert to_bruno["role"] == "VIEWER" and to_bruno["community_name"] == "CER Milano Centro"
        await call("POST", to_bruno["accept_path"], bruno)
        pods = [f"IT001E{(base + i) % 10**8:08d}" for i in range(3)]
        p1 = (await call("POST", "/api/plants/", founder, json=plant_body(cid, anna, pod=pods[0])))[
            "id"
        ]
        consumer = plant_body(
            cid, anna, pod=pods[1], plant_type="CONSUMER", technology=None, entry_into_service=None
        )
        p2 = (await call("POST", "/api/plants/", founder, json=consumer))["id"]
        p3 = (await call("POST", "/api/plants/", founder, json=plant_body(cid, anna, pod=pods[2])))[
            "id"
        ]
        for power in ("20", "21.5"):
            await call("PUT", f"/api/plants/{p1}/", founder, json={"nominal_power_kw": power})
        await call("PUT", f"/api/plants/{p3}/", founder, json={"primary_substation": "AC009E00009"})
        await call("DELETE", f"/api/plants/{p2}/?left_on=2025-06-01", founder)
        await call("PUT", f"/api/cer/{cid}/", founder, json={"name": "Rinominata"})

        # One event per change: 2 cer, 2 invitations, 3 memberships, 3 registered,
        # 3 updated, 1 left.
        envelopes = await _collect(run, expected=14)
        registry = await call("GET", f"/api/plants/?cer_id={cid}&per_page=100", founder)
        members = await call("GET", f"/api/cer/{cid}/members/", founder)
        summary = await call("GET", f"/api/cer/{cid}/", founder)

    types = sorted(e["type"] for e in envelopes)
    assert types == sorted(
        ["cer.created", "cer.updated"]
        + ["invitation.created"] * 2
        + ["membership.started"] * 3
        + ["plant.registered"] * 3
        + ["plant.updated"] * 3
        + ["plant.left"]
    ), types
    assert len({e["id"] for e in envelopes}) == len(envelopes)
    for e in envelopes:
        assert e["_partition"][0] == e["type"].split(".")[0] + ".v1"
        assert e["_record_key"] == e["key"]

    # Order per plant: one partition per key, and the changes in the order made.
    per_plant: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in envelopes:
        if e["type"].startswith("plant."):
            per_plant[e["key"]].append(e)
    assert [e["data"]["nominal_power_kw"] for e in per_plant[str(p1)]] == [
        "19.50",
        "20.00",
        "21.50",
    ]
    assert [e["type"] for e in per_plant[str(p1)]] == ["plant.registered", "plant.updated",
                                                        "plant.updated"]  # fmt: skip
    assert [e["type"] for e in per_plant[str(p2)]] == ["plant.registered", "plant.left"]
    for events in per_plant.values():
        assert len({e["_partition"] for e in events}) == 1

    # Another service's read model, built from the events alone, equals the registry.
    rebuilt: dict[int, dict[str, Any]] = {}
    for events in per_plant.values():
        for e in events:
            rebuilt[e["data"]["plant_id"]] = e["data"]
    fields = ("pod", "community_id", "owner_user_id", "plant_type", "nominal_power_kw",
              "technology", "entry_into_service", "region", "primary_substation", "market_zone",
              "capital_grant_eur_per_kw", "connection_voltage", "name")  # fmt: skip
    assert {pid: {f: facts[f] for f in fields} | {"is_active": facts["valid_to"] is None}
            for pid, facts in rebuilt.items()} == {
        p["id"]: {f: p[f] for f in fields} | {"is_active": p["is_active"]} for p in registry
    }  # fmt: skip
    memberships = {
        e["data"]["user_id"]: (e["data"]["role"], e["data"]["valid_to"])
        for e in envelopes
        if e["type"].startswith("membership.")
    }
    assert memberships == {m["user_id"]: (m["role"], m["valid_to"]) for m in members}
    community = [e["data"] for e in envelopes if e["type"].startswith("cer.")][-1]
    assert (community["name"], community["code"], community["market_zone"]) == (
        summary["name"],
        summary["code"],
        summary["market_zone"],
    )
    assert (
        community["distribution_shares"][-1]["producers_pct"]
        == (summary["distribution_shares"]["producers_pct"])
    )
