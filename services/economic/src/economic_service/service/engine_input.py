"""The engine's input document (``cer settle``'s JSON) from the service's inputs.

The engine has no dates on members or points, so the service gives it what
each period allows: a POD's hour counts only on days when the plant was in
the community *and* its owner was a member (ADMIN or MEMBER) of it. The
document is exactly what ``cer settle --input`` reads, so a run can be
replayed by the command and compared to the cent.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cerc_shared.clock import ITALY
from cerc_shared.readmodels import MembershipPeriod, PlantFacts, PlantPeriod, SharesPeriod

from economic_service.energy import CommunityMonthEnergy

COUNTING_ROLES = frozenset(("ADMIN", "MEMBER"))
HUNDRED = Decimal(100)


class InputProblem(ValueError):
    """The registry cannot give the engine what it needs (a plant without a substation...)."""

    def __init__(self, problems: Sequence[str], *, code: str = "registry") -> None:
        self.problems = list(problems)
        self.code = code
        super().__init__("; ".join(self.problems))


def month_bounds(period: str) -> tuple[date, date]:
    year, month = (int(part) for part in period.split("-"))
    start = date(year, month, 1)
    end = date(year + (month == 12), month % 12 + 1, 1)
    return start, end


def member_id(user_id: int) -> str:
    return f"u{user_id}"


def user_of(member: str) -> int:
    return int(member.removeprefix("u"))


@dataclass
class EngineInput:
    document: dict[str, Any]
    coverage: dict[str, Any]
    fingerprint: str
    excluded_hours: int = 0
    notes: list[str] = field(default_factory=list)


def _covered(periods: Sequence[tuple[date, date | None]], day: date) -> bool:
    return any(start <= day and (end is None or day < end) for start, end in periods)


def build_engine_input(
    *,
    period: str,
    stays: Sequence[PlantPeriod],
    plants: Mapping[int, PlantFacts],
    memberships: Sequence[MembershipPeriod],
    shares: SharesPeriod | None,
    energy: CommunityMonthEnergy,
    prices: Sequence[tuple[str, datetime, Decimal]],
    trase_eur_mwh: Decimal | None,
    cost_cap_by_plant: Mapping[int, Decimal] | None = None,
) -> EngineInput:
    start, end = month_bounds(period)
    problems: list[str] = []
    if shares is None:
        problems.append(f"the community has no distribution shares in force on {start}")

    counting = [m for m in memberships if m.role in COUNTING_ROLES]
    membership_days: dict[int, list[tuple[date, date | None]]] = {}
    latest_membership: dict[int, MembershipPeriod] = {}
    for m in counting:
        membership_days.setdefault(m.user_id, []).append((m.valid_from, m.valid_to))
        if (
            m.user_id not in latest_membership
            or m.valid_from >= latest_membership[m.user_id].valid_from
        ):
            latest_membership[m.user_id] = m

    stays_of: dict[int, list[PlantPeriod]] = {}
    for stay in stays:
        stays_of.setdefault(stay.plant_id, []).append(stay)

    points: list[dict[str, Any]] = []
    readings: list[dict[str, Any]] = []
    members_used: dict[int, MembershipPeriod] = {}
    coverage: Counter[str] = Counter()
    excluded = 0
    for plant_id in sorted(stays_of):
        facts = plants.get(plant_id)
        plant_stays = sorted(stays_of[plant_id], key=lambda s: s.valid_from)
        if facts is None:
            problems.append(f"plant {plant_id}: unknown to the registry read model")
            continue
        owner = plant_stays[-1].owner_user_id
        if owner not in latest_membership:
            # Its owner was no member this month: none of its hours can count.
            excluded += len(energy.pods.get(facts.pod, ()))
            continue
        if not facts.primary_substation or not facts.market_zone:
            problems.append(f"plant {plant_id} ({facts.pod}): no primary substation or market zone")
            continue
        point: dict[str, Any] = {
            "pod": facts.pod,
            "member": member_id(owner),
            "substation": facts.primary_substation,
            "zone": facts.market_zone,
        }
        if facts.plant_type in ("PRODUCER", "PROSUMER"):
            missing = [
                name
                for name in ("nominal_power_kw", "technology", "region", "entry_into_service")
                if getattr(facts, name) is None
            ]
            if missing:
                problems.append(f"plant {plant_id} ({facts.pod}): missing {', '.join(missing)}")
                continue
            point["plant"] = {
                "power_kw": str(facts.nominal_power_kw),
                "technology": facts.technology,
                "region": facts.region,
                "entry_into_service": facts.entry_into_service.isoformat()
                if facts.entry_into_service
                else None,
                "capital_grant_eur_per_kw": str(facts.capital_grant_eur_per_kw or 0),
            }
            if cost_cap_by_plant and plant_id in cost_cap_by_plant:
                point["plant"]["max_eligible_cost_eur_per_kw"] = str(cost_cap_by_plant[plant_id])
        points.append(point)
        members_used[owner] = latest_membership[owner]
        stay_days = [(s.valid_from, s.valid_to) for s in plant_stays]
        member_days = membership_days[owner]
        for hour in energy.pods.get(facts.pod, ()):
            local = hour.start.astimezone(ITALY)
            day = local.date()
            if not (start <= day < end):
                excluded += 1
                continue
            if not (_covered(stay_days, day) and _covered(member_days, day)):
                excluded += 1
                continue
            coverage[hour.source] += 1
            readings.append(
                {
                    "pod": facts.pod,
                    "start": local.isoformat(),
                    "minutes": 60,
                    "fed_in_kwh": float(hour.fed_in_kwh),
                    "withdrawn_kwh": float(hour.withdrawn_kwh),
                }
            )
    if problems:
        raise InputProblem(problems)
    assert shares is not None

    members = [
        {
            "id": member_id(user_id),
            "enterprise": m.member_type == "ENTERPRISE",
            "public_body": m.body_type not in (None, "NONE"),
        }
        for user_id, m in sorted(members_used.items())
    ]
    zones = {p["zone"] for p in points}
    document: dict[str, Any] = {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "members": members,
        "points": points,
        # Prices and shares as decimal strings: exact from the table to the engine.
        "prices": [
            {"zone": zone, "hour": hour.astimezone(ITALY).isoformat(), "eur_mwh": str(eur)}
            for zone, hour, eur in prices
            if zone in zones
        ],
        "readings": readings,
        "distribution": {
            "producers": str(shares.producers_pct / HUNDRED),
            "consumers": str(shares.consumers_pct / HUNDRED),
            "community": str(shares.community_fund_pct / HUNDRED),
        },
    }
    if trase_eur_mwh is not None:
        document["trase_eur_mwh"] = str(trase_eur_mwh)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return EngineInput(
        document=document,
        coverage={
            "hours_by_source": dict(sorted(coverage.items())),
            "hours_excluded_outside_periods": excluded,
            "official_complete": energy.official_complete,
        },
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
        excluded_hours=excluded,
    )
