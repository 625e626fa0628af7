"""Communities: self-service creation, the statute's shares, updates,
deactivation, documents; every change audited and published through the outbox."""

from __future__ import annotations

import httpx
import pytest
from cer_service.models import AuditEntry, Community, DistributionShares, Membership, outbox
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import MAX_DOCUMENT_BYTES, PLATFORM_ADMIN, auth, community_body, new_community

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def _counts(maker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with maker() as session:
        counts = {}
        for name, table in (
            ("communities", Community.__table__),
            ("shares", DistributionShares.__table__),
            ("memberships", Membership.__table__),
            ("audit", AuditEntry.__table__),
            ("outbox", outbox),
        ):
            counts[name] = int(await session.scalar(select(func.count()).select_from(table)) or 0)
        return counts


async def test_any_user_creates_a_community_and_becomes_its_admin(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await client.post(
        "/api/cer/", json=community_body("cer-milano"), headers=auth(10, "BUSINESS")
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True and body["errors"] == []
    data = body["data"]
    assert data["code"] == "CER-MILANO"  # normalised
    assert data["members_count"] == 1 and data["my_role"] == "ADMIN"
    assert data["total_power"] == "0" and data["plants_count"] == 0
    assert data["distribution_shares"] == {
        "valid_from": "2025-01-01",
        "producers_pct": "55.00",
        "consumers_pct": "35.00",
        "community_fund_pct": "10.00",
    }
    async with sessionmaker() as session:
        founder = await session.scalar(select(Membership))
        assert founder is not None
        assert (founder.user_id, founder.role, founder.member_type) == (10, "ADMIN", "ENTERPRISE")
        rows = (await session.execute(select(outbox).order_by(outbox.c.id))).all()
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert [(r.type, r.topic, r.key) for r in rows] == [
        ("cer.created", "cer.v1", str(data["id"])),
        ("membership.started", "membership.v1", str(founder.id)),
    ]
    created = rows[0].envelope["data"]
    assert created["distribution_shares"][0]["producers_pct"] == "55.00"
    assert actions == ["community.created", "member.added"]


@pytest.mark.parametrize(
    ("change", "status", "field", "code"),
    [
        (
            {"distribution_shares": {"producers_pct": "50", "consumers_pct": "30",
                                     "community_fund_pct": "10"}},
            422, "distribution_shares", "shares_do_not_add_up",
        ),
        (
            {"distribution_shares": {"producers_pct": "-10", "consumers_pct": "100",
                                     "community_fund_pct": "10"}},
            422, "distribution_shares.producers_pct", "validation_error",
        ),
        ({"market_zone": "EUROPA"}, 422, "market_zone", "validation_error"),
        ({"code": "CER 01"}, 422, "code", "validation_error"),
        ({"name": ""}, 422, "name", "validation_error"),
        ({"is_active": False}, 422, "is_active", "validation_error"),
    ],
)  # fmt: skip
async def test_bad_community_is_refused_and_writes_nothing(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    change: dict[str, object],
    status: int,
    field: str,
    code: str,
) -> None:
    before = await _counts(sessionmaker)
    body = community_body("CER-BAD")
    body.update(change)
    response = await client.post("/api/cer/", json=body, headers=auth(10))
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["success"] is False and payload["data"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert await _counts(sessionmaker) == before


async def test_community_code_is_unique(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await new_community(client, 10, "CER001")
    before = await _counts(sessionmaker)
    again = await client.post("/api/cer/", json=community_body("cer001"), headers=auth(11))
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "code"
    assert await _counts(sessionmaker) == before


async def test_requests_without_a_valid_token_are_refused(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/cer/")).status_code == 401
    forged = {"Authorization": "Bearer " + "x.y.z"}
    assert (await client.get("/api/cer/", headers=forged)).status_code == 401


async def test_update_shares_history_and_deactivation(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cer = await new_community(client, 10)
    cid = cer["id"]
    renamed = await client.put(
        f"/api/cer/{cid}/", json={"name": "CER Milano", "description": "nuova"}, headers=auth(10)
    )
    assert renamed.status_code == 200 and renamed.json()["data"]["name"] == "CER Milano"
    shares = {"valid_from": "2026-01-01", "producers_pct": "40", "consumers_pct": "50",
              "community_fund_pct": "10"}  # fmt: skip
    added = await client.post(f"/api/cer/{cid}/shares/", json=shares, headers=auth(10))
    assert added.status_code == 201, added.text
    assert [s["valid_from"] for s in added.json()["data"]] == ["2025-01-01", "2026-01-01"]
    twice = await client.post(f"/api/cer/{cid}/shares/", json=shares, headers=auth(10))
    assert twice.status_code == 409 and twice.json()["errors"][0]["field"] == "valid_from"
    bad = {**shares, "valid_from": "2027-01-01", "community_fund_pct": "11"}
    refused = await client.post(f"/api/cer/{cid}/shares/", json=bad, headers=auth(10))
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "distribution_shares"

    # Only a platform administrator deactivates, and the community stays readable.
    assert (await client.delete(f"/api/cer/{cid}/", headers=auth(10))).status_code == 403
    gone = await client.delete(f"/api/cer/{cid}/", headers=PLATFORM_ADMIN)
    assert gone.status_code == 200 and gone.json()["data"]["is_active"] is False
    assert (await client.get(f"/api/cer/{cid}/", headers=auth(10))).json()["data"][
        "is_active"
    ] is False
    frozen = await client.put(f"/api/cer/{cid}/", json={"name": "X"}, headers=auth(10))
    assert frozen.status_code == 409
    async with sessionmaker() as session:
        types = list(await session.scalars(select(outbox.c.type).order_by(outbox.c.id)))
        audit = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.before, AuditEntry.after).order_by(
                    AuditEntry.id
                )
            )
        ).all()
    assert types == ["cer.created", "membership.started", "cer.updated", "cer.updated",
                     "cer.deactivated"]  # fmt: skip
    renamed_entry = next(a for a in audit if a.action == "community.updated")
    assert renamed_entry.before["name"] == "CER Milano Centro"
    assert renamed_entry.after["name"] == "CER Milano"


async def test_audit_trail_is_append_only(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await new_community(client, 10)
    async with sessionmaker() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text("UPDATE audit_log SET action = 'forged'"))
    async with sessionmaker() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text("DELETE FROM audit_log"))


async def test_statute_upload_checks_type_and_size(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cid = (await new_community(client, 10))["id"]
    url = f"/api/cer/{cid}/documents/statute/"
    missing = await client.get(url, headers=auth(10))
    assert missing.status_code == 404
    uploaded = await client.put(
        url, files={"file": ("statuto.pdf", PDF, "application/pdf")}, headers=auth(10)
    )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["data"]["documents"] == {"statute": True, "regulation": False,
                                                    "logo": False}  # fmt: skip
    fetched = await client.get(url, headers=auth(10))
    assert fetched.status_code == 200 and fetched.content == PDF
    assert fetched.headers["content-type"] == "application/pdf"
    assert fetched.headers["content-disposition"] == 'attachment; filename="statute.pdf"'
    assert fetched.headers["x-content-type-options"] == "nosniff"

    before = await _counts(sessionmaker)
    not_pdf = await client.put(
        url, files={"file": ("statuto.pdf", b"<html>hi</html>", "application/pdf")},
        headers=auth(10),
    )  # fmt: skip
    assert not_pdf.status_code == 415 and not_pdf.json()["errors"][0]["field"] == "file"
    too_big = PDF + b"0" * MAX_DOCUMENT_BYTES
    large = await client.put(
        url, files={"file": ("statuto.pdf", too_big, "application/pdf")}, headers=auth(10)
    )
    assert large.status_code == 413 and large.json()["errors"][0]["field"] == "file"
    logo_as_pdf = await client.put(
        f"/api/cer/{cid}/documents/logo/", files={"file": ("l.pdf", PDF, "application/pdf")},
        headers=auth(10),
    )  # fmt: skip
    assert logo_as_pdf.status_code == 415
    assert await _counts(sessionmaker) == before
    logo = await client.put(
        f"/api/cer/{cid}/documents/logo/", files={"file": ("l.png", PNG, "image/png")},
        headers=auth(10),
    )  # fmt: skip
    assert logo.status_code == 200 and logo.json()["data"]["documents"]["logo"] is True


async def test_the_silent_meter_threshold_is_chosen_bounded_and_published(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    founder = 10
    created = await new_community(client, founder, "CERTHR", device_offline_threshold_min=90)
    assert created["device_offline_threshold_min"] == 90
    too_short = await client.put(
        f"/api/cer/{created['id']}/",
        json={"device_offline_threshold_min": 2},
        headers=auth(founder),
    )
    assert too_short.status_code == 422
    assert too_short.json()["errors"][0]["field"] == "device_offline_threshold_min"
    changed = await client.put(
        f"/api/cer/{created['id']}/",
        json={"device_offline_threshold_min": 15},
        headers=auth(founder),
    )
    assert (
        changed.status_code == 200 and changed.json()["data"]["device_offline_threshold_min"] == 15
    )
    async with sessionmaker() as session:
        published = [
            e["data"]
            for e in (
                await session.execute(select(outbox.c.envelope).order_by(outbox.c.id))
            ).scalars()
            if e["data"].get("community_id") == created["id"] and e["type"].startswith("cer.")
        ]
    assert [(e["type"], e["device_offline_threshold_min"]) for e in published] == [
        ("cer.created", 90),
        ("cer.updated", 15),
    ]
