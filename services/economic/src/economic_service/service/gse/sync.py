"""One exchange between a community and the GSE, as a job.

Three phases so no database transaction stays open while the GSE is slow:
read what to send (registry, credentials, the energy service's official hours),
talk to the GSE (register the configuration and its PODs, submit the months'
measurements, pull the figures, advances, payments and balance), then store
what came back in one transaction. Everything sent carries the GSE's natural
key or an idempotency key, and everything received is stored by the GSE's own
identifiers, so a retried or repeated sync posts nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cerc_shared.auth import Principal
from cerc_shared.clock import ITALY, italian_today
from cerc_shared.crypto import FieldCipher
from cerc_shared.envelope import ApiError
from sqlalchemy.ext.asyncio import AsyncSession

from economic_service import repository
from economic_service.energy import EnergySource, EnergyUnavailable
from economic_service.models import GseSyncJob, registry
from economic_service.service.access import require_admin
from economic_service.service.gse import calendar, statements, true_up
from economic_service.service.gse.client import GseClient, GseRefused
from economic_service.service.reconciliation import announce_if_mismatch

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MAX_MONTHS = 24


def secret_context(community_id: int) -> str:
    # Bound to the community: a sealed secret copied to another row does not open.
    return f"gse-client-secret:{community_id}"


async def save_credentials(
    session: AsyncSession,
    principal: Principal,
    cipher: FieldCipher,
    community_id: int,
    client_id: str,
    client_secret: str,
) -> None:
    await require_admin(session, principal, community_id)
    if await registry.reader(session).community(community_id) is None:
        raise ApiError(404, "not_found", "community not found")
    sealed = cipher.seal(client_secret, context=secret_context(community_id))
    await repository.save_gse_credential(
        session, community_id, client_id, sealed, principal.user_id
    )


async def request_sync(
    session: AsyncSession, principal: Principal, community_id: int, months: list[str] | None
) -> GseSyncJob:
    await require_admin(session, principal, community_id)
    for i, month in enumerate(months or []):
        if not PERIOD.match(month):
            raise ApiError(
                422,
                "invalid",
                f"{month!r} is not a month",
                field=f"months[{i}]",
                expected="YYYY-MM",
            )
    if months is not None and len(months) > MAX_MONTHS:
        raise ApiError(
            422, "invalid", "too many months", field="months", expected=f"at most {MAX_MONTHS}"
        )
    if await repository.gse_credential(session, community_id) is None:
        raise ApiError(
            409,
            "no_gse_credentials",
            "the community has no GSE credentials; an ADMIN sets them first",
            field="community_id",
        )
    return await enqueue(session, community_id, months, requested_by=principal.user_id)


async def enqueue(
    session: AsyncSession, community_id: int, months: list[str] | None, *, requested_by: int
) -> GseSyncJob:
    chosen = sorted(set(months)) if months else calendar.previous_months(italian_today(), 2)
    job = GseSyncJob(
        community_id=community_id, status="QUEUED", requested_by=requested_by, months=chosen
    )
    session.add(job)
    await session.flush()
    return job


@dataclass
class Plan:
    """What the sync will send: read from the database before the GSE is called."""

    community_id: int
    months: list[str]
    client_id: str
    client_secret: str
    configuration_code: str
    configuration_name: str
    points: list[dict[str, Any]]  # the GSE's plant bodies, without configuration_id


@dataclass
class Outcome:
    configuration_id: str
    plants: list[tuple[str, str, str | None]] = field(default_factory=list)
    submissions: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    advances: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    balance: dict[str, Any] | None = None


async def plan(session: AsyncSession, job: GseSyncJob, cipher: FieldCipher) -> Plan:
    credential = await repository.gse_credential(session, job.community_id)
    if credential is None:
        raise LookupError("the community's GSE credentials were removed")
    reader = registry.reader(session)
    community = await reader.community(job.community_id)
    first = calendar.month_start(job.months[0])
    end = calendar.next_month(calendar.month_start(job.months[-1]))
    stays = await reader.plants_of_community(job.community_id, between=(first, end))
    plants = await reader.plants(stay.plant_id for stay in stays)
    members = await reader.memberships_of_community(job.community_id, between=(first, end))
    public = {m.user_id for m in members if m.body_type not in (None, "NONE")}
    points = []
    for facts in sorted(plants.values(), key=lambda p: p.pod):
        if not facts.primary_substation or not facts.market_zone:
            continue
        body: dict[str, Any] = {
            "pod": facts.pod,
            "substation": facts.primary_substation,
            "zone": facts.market_zone,
            "public_body": facts.owner_user_id in public,
            "plant": None,
        }
        if facts.plant_type in ("PRODUCER", "PROSUMER") and facts.entry_into_service:
            body["plant"] = {
                "power_kw": str(facts.nominal_power_kw),
                "technology": facts.technology,
                "region": facts.region,
                "entry_into_service": facts.entry_into_service.isoformat(),
                "capital_grant_eur_per_kw": str(facts.capital_grant_eur_per_kw or 0),
            }
        points.append(body)
    code = f"CERC-{job.community_id}"
    return Plan(
        community_id=job.community_id,
        months=list(job.months),
        client_id=credential.client_id,
        client_secret=cipher.open(
            credential.client_secret_sealed, context=secret_context(job.community_id)
        ),
        configuration_code=code,
        configuration_name=(community.name if community and community.name else code)[:200],
        points=points,
    )


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


async def exchange(plan: Plan, gse: GseClient, energy: EnergySource) -> Outcome:
    """Talk to the GSE; raises GseError when it cannot be used (nothing stored then)."""
    cfg = await gse.post(
        "/gse/api/v1/configurations/",
        {"code": plan.configuration_code, "name": plan.configuration_name, "type": "CER"},
    )
    out = Outcome(configuration_id=cfg["id"])
    registered: dict[str, dict[str, Any]] = {}
    for point in plan.points:
        try:
            plant = await gse.post("/gse/api/v1/plants/", {"configuration_id": cfg["id"], **point})
        except GseRefused as exc:
            # A POD the GSE holds with other facts (a plant changed since): reported,
            # the rest of the sync goes on.
            out.problems.append({"code": "plant_refused", "pod": point["pod"], "message": str(exc)})
            continue
        registered[plant["pod"]] = plant
        out.plants.append((plant["pod"], plant["id"], plant["eligibility"]["status"]))
    for month in plan.months:
        try:
            hours = await energy.pod_hours(plan.community_id, month)
        except EnergyUnavailable as exc:
            out.problems.append({"code": "energy_unavailable", "month": month, "message": str(exc)})
            continue
        readings = []
        for pod, rows in sorted(hours.pods.items()):
            gse_point = registered.get(pod)
            if gse_point is None:
                continue
            producing = gse_point["kind"] == "PRODUCTION"
            for hour in rows:
                # The distributor sends the GSE its official data; our devices' and
                # manual readings stay ours (a difference the reconciliation explains).
                if hour.source != "official":
                    continue
                readings.append(
                    {
                        "pod": pod,
                        "start": hour.start.astimezone(ITALY).isoformat(),
                        "minutes": 60,
                        "fed_in_kwh": float(hour.fed_in_kwh) if producing else 0.0,
                        "withdrawn_kwh": float(hour.withdrawn_kwh),
                    }
                )
        if not readings:
            out.submissions.append({"month": month, "readings": 0})
            continue
        body = {"configuration_id": cfg["id"], "readings": readings}
        answer = await gse.post("/gse/api/v1/measurements/", body, key=_key("msr", body))
        out.submissions.append(
            {"month": month, "readings": len(readings)}
            | {k: answer[k] for k in ("id", "created", "replaced", "unchanged")}
        )
    base = f"/gse/api/v1/configurations/{cfg['id']}/results/"
    for summary in await gse.pages(base):
        document = await gse.get_optional(base + summary["month"])
        if document is not None:
            out.results.append(document)
    out.advances = await gse.pages("/gse/api/v1/advances/", configuration_id=cfg["id"])
    page: int | None = 1
    while page is not None:
        body = await gse.get(
            "/gse/api/v1/payments/", configuration_id=cfg["id"], page=page, page_size=1000
        )
        out.payments.extend(body["items"])
        out.balance = body.get("balance")
        page = body.get("next_page")
    return out


async def store(
    session: AsyncSession, plan: Plan, outcome: Outcome, tolerance_cents: int
) -> dict[str, Any]:
    """Keep what the GSE said, once; the job's summary."""
    cid = plan.community_id
    await repository.set_gse_configuration(session, cid, outcome.configuration_id)
    for pod, gse_id, eligibility in outcome.plants:
        await repository.save_gse_plant(session, cid, pod, gse_id, eligibility)
    new_results = []
    for document in outcome.results:
        if await statements.store_result(session, cid, document, "API") is not None:
            new_results.append(document["month"])
    new_advances = sum([await statements.store_advance(session, cid, a) for a in outcome.advances])
    new_payments = [
        p["id"]
        for p in outcome.payments
        if await statements.record_payment(session, cid, p, source="API")
    ]
    if outcome.balance is not None:
        await statements.store_balance(session, cid, outcome.balance)
    for month in sorted(set(plan.months) | set(new_results)):
        await statements.expect_advances(session, cid, month)
    true_ups = []
    for year, stated in sorted(true_up.stated_true_ups(outcome.payments, outcome.balance).items()):
        run = await true_up.record_true_up(session, cid, year, stated)
        if run is not None:
            true_ups.append(run.id)
    mismatches = []
    for month in sorted(set(new_results)):
        if await announce_if_mismatch(session, cid, month, tolerance_cents):
            mismatches.append(month)
    return {
        "configuration_id": outcome.configuration_id,
        "plants_registered": len(outcome.plants),
        "submissions": outcome.submissions,
        "results_received": len(outcome.results),
        "results_new": sorted(new_results),
        "advances_new": new_advances,
        "payments_new": new_payments,
        "mismatches_announced": mismatches,
        "true_up_runs": true_ups,
        "problems": outcome.problems,
        "finished_at": datetime.now(UTC).isoformat(),
    }
