"""A synthetic community month settled by the real rules engine (cacer): the
figures the benchmark and the tests render, as the owning services would
answer them. Producers (every fifth member) feed in a solar day; the others
withdraw a household or business load; two primary substations."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from cacer import parse_scenario, settle
from cacer.report import settlement_json
from cerc_shared.clock import ITALY
from cerc_shared.readmodels import MembershipPeriod, PlantStay

from reporting_service.figures import EnergyMonth, PodHour, ReportedRun, run_of
from reporting_service.service.compose import CommunityContext

SUBSTATIONS = ("AC001E00001", "AC001E00002")


@dataclass
class SampleMonth:
    ctx: CommunityContext
    energy: EnergyMonth
    run: ReportedRun
    settlement_total_cents: int
    # What the economic service's internal route answers for this run.
    economic_answer: dict[str, Any]
    # What the energy service's internal routes answer: POD hours, daily aggregates.
    energy_answer: dict[str, Any]
    days_answer: list[dict[str, Any]]


def user_id_of(community_id: int, index: int) -> int:
    return community_id * 10_000 + index + 1


def sample_month(
    community_id: int,
    month: str,
    members: int,
    *,
    days: int | None = None,
    seed: int = 7,
    run_id: int = 1,
) -> SampleMonth:
    rng = random.Random(seed)  # noqa: S311 - sample data, not a secret
    year, m = int(month[:4]), int(month[5:])
    start = date(year, m, 1)
    end = date(year + (m == 12), m % 12 + 1, 1)
    if days is not None:
        end = min(end, start + timedelta(days=days))
    first = datetime(start.year, start.month, start.day, tzinfo=ITALY).astimezone(UTC)
    last = datetime(end.year, end.month, end.day, tzinfo=ITALY).astimezone(UTC)
    hours = []
    at = first
    while at < last:
        hours.append(at)
        at += timedelta(hours=1)
    doc_members, points, readings = [], [], []
    stays, memberships = [], []
    energy_pods: dict[str, list[PodHour]] = {}
    for i in range(members):
        user = user_id_of(community_id, i)
        producer = i % 5 == 0
        enterprise = i % 17 == 3
        pod = f"IT001E{community_id % 1000:03d}{i:05d}"
        substation = SUBSTATIONS[i % 2]
        doc_members.append({"id": f"u{user}", "enterprise": enterprise, "public_body": False})
        point: dict[str, Any] = {
            "pod": pod,
            "member": f"u{user}",
            "substation": substation,
            "zone": "NORD",
        }
        power = Decimal(rng.choice((6, 10, 20, 50)))
        if producer:
            point["plant"] = {
                "power_kw": float(power),
                "technology": "PV",
                "region": "Lombardia",
                "entry_into_service": "2024-03-01",
                "capital_grant_eur_per_kw": 0,
            }
        points.append(point)
        load = 0.25 + rng.random() * (2.0 if enterprise else 0.6)
        pod_hours = []
        for h in hours:
            local = h.astimezone(ITALY)
            sun = max(0.0, math.sin(math.pi * (local.hour - 6) / 14)) if 6 <= local.hour < 20 else 0
            fed = round(float(power) * 0.7 * sun * (0.7 + 0.3 * rng.random()), 3) if producer else 0
            withdrawn = round(load * (1.4 if 18 <= local.hour < 22 else 1.0), 3)
            readings.append(
                {
                    "pod": pod,
                    "start": local.isoformat(),
                    "minutes": 60,
                    "fed_in_kwh": fed,
                    "withdrawn_kwh": withdrawn,
                }
            )
            pod_hours.append(PodHour(h, round(fed * 1000), round(withdrawn * 1000), "official"))
        energy_pods[pod] = pod_hours
        stays.append(
            PlantStay(
                plant_id=user,
                community_id=community_id,
                owner_user_id=user,
                valid_from=date(2024, 1, 1),
                valid_to=None,
                pod=pod,
                primary_substation=substation,
                market_zone="NORD",
                nominal_power_kw=power,
                technology="PV" if producer else None,
                entry_into_service=date(2024, 3, 1) if producer else None,
                region="Lombardia",
                capital_grant_eur_per_kw=Decimal(0),
            )
        )
        memberships.append(
            MembershipPeriod(
                membership_id=user,
                community_id=community_id,
                user_id=user,
                role="MEMBER",
                member_type="ENTERPRISE" if enterprise else "PRIVATE",
                body_type="NONE",
                valid_from=date(2024, 1, 1),
                valid_to=None,
            )
        )
    prices = [
        {
            "zone": "NORD",
            "hour": h.astimezone(ITALY).isoformat(),
            "eur_mwh": round(90 + 30 * rng.random(), 2),
        }
        for h in hours
    ]
    distribution = {"producers": 0.45, "consumers": 0.3, "community": 0.25}
    document = {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "trase_eur_mwh": 10.57,
        "members": doc_members,
        "points": points,
        "prices": prices,
        "readings": readings,
        "distribution": distribution,
    }
    settlement = settle(parse_scenario(document))
    economic_answer = {
        "run_id": run_id,
        "period": month,
        "kind": "FINAL",
        "total_cents": settlement.total_cents,
        "community_cents": settlement.community_cents,
        "coverage": None,
        "parameters": {"distribution": distribution},
        "result": settlement_json(settlement),
        "members": [
            {
                "user_id": int(r.id[1:]),
                "producer_shared_wh": r.producer_shared_energy_wh,
                "contribution_wh": r.contribution_wh,
                "as_producer_cents": r.as_producer_cents,
                "as_consumer_cents": r.as_consumer_cents,
                "cents": r.cents,
            }
            for r in settlement.members
        ],
        "finished_at": datetime(end.year, end.month, end.day, 9, tzinfo=UTC).isoformat(),
    }
    energy_answer = {
        "community_id": community_id,
        "month": month,
        "official_complete": True,
        "pods": [
            {
                "pod": pod,
                "plant_id": 0,
                "hours": [
                    {
                        "start": h.start.isoformat(),
                        "fed_in_kwh": h.fed_in_wh / 1000,
                        "withdrawn_kwh": h.withdrawn_wh / 1000,
                        "source": h.source,
                    }
                    for h in pod_hours
                ],
            }
            for pod, pod_hours in energy_pods.items()
        ],
    }
    # The energy service's daily aggregates: here every plant is metered at the
    # grid connection only, so produced is fed-in and consumed withdrawn.
    shared_by_hour: dict[tuple[datetime, str], list[int]] = {}
    for stay in stays:
        for hour in energy_pods[stay.pod]:
            cell = shared_by_hour.setdefault((hour.start, stay.primary_substation or ""), [0, 0])
            cell[0] += hour.fed_in_wh
            cell[1] += hour.withdrawn_wh
    days_out: dict[str, list[int]] = {}
    for (start_at, _), (fed, withdrawn) in shared_by_hour.items():
        key = start_at.astimezone(ITALY).date().isoformat()
        row = days_out.setdefault(key, [0, 0, 0])
        row[0] += fed
        row[1] += withdrawn
        row[2] += min(fed, withdrawn)
    days_answer = [
        {
            "start": datetime.fromisoformat(day).replace(tzinfo=ITALY).isoformat(),
            "produced_kwh": v[0] / 1000,
            "consumed_kwh": v[1] / 1000,
            "self_consumption_kwh": 0.0,
            "fed_in_kwh": v[0] / 1000,
            "withdrawn_kwh": v[1] / 1000,
            "shared_kwh": v[2] / 1000,
        }
        for day, v in sorted(days_out.items())
    ]
    ctx = CommunityContext(
        community_id, f"CER Test {community_id}", f"CER{community_id}", stays, memberships
    )
    return SampleMonth(
        ctx,
        EnergyMonth(energy_pods, True),
        run_of(economic_answer),
        settlement.total_cents,
        economic_answer,
        energy_answer,
        days_answer,
    )
