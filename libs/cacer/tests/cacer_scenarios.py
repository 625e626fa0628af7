"""Builders for scenario documents, so that tests read like the JSON a user would write."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from cacer import Settlement, parse_scenario, settle

ROME = ZoneInfo("Europe/Rome")
SHARES = {"producers": 0.45, "consumers": 0.30, "community": 0.25}


def at(day: str, hour: int, minute: int = 0) -> str:
    """The ISO instant of a local wall-clock time in Italy (unambiguous hours only)."""
    y, m, d = (int(x) for x in day.split("-"))
    return datetime(y, m, d, hour, minute, tzinfo=ROME).isoformat()


def plant(
    power_kw: float,
    entry: str = "2024-05-01",
    technology: str = "PV",
    region: str = "Lombardia",
    grant: float = 0,
) -> dict[str, Any]:
    return {
        "power_kw": power_kw,
        "technology": technology,
        "region": region,
        "entry_into_service": entry,
        "capital_grant_eur_per_kw": grant,
    }


def point(
    pod: str,
    member: str,
    substation: str = "AC001E00001",
    zone: str = "NORD",
    plant: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"pod": pod, "member": member, "substation": substation, "zone": zone}
    if plant is not None:
        out["plant"] = plant
    return out


def reading(
    pod: str, start: str, fed: float = 0.0, withdrawn: float = 0.0, minutes: int = 60
) -> dict[str, Any]:
    return {
        "pod": pod,
        "start": start,
        "minutes": minutes,
        "fed_in_kwh": fed,
        "withdrawn_kwh": withdrawn,
    }


def price(hour: str, eur_mwh: Decimal | int, zone: str = "NORD") -> dict[str, Any]:
    return {"zone": zone, "hour": hour, "eur_mwh": eur_mwh}


def member(mid: str, enterprise: bool = False, public_body: bool = False) -> dict[str, Any]:
    return {"id": mid, "enterprise": enterprise, "public_body": public_body}


def document(
    members: list[dict[str, Any]],
    points: list[dict[str, Any]],
    readings: list[dict[str, Any]],
    prices: list[dict[str, Any]],
    start: str = "2025-06-01",
    end: str = "2025-06-02",
    trase: float | None = 10.57,
    shares: dict[str, float] | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "period": {"start": start, "end": end},
        "members": members,
        "points": points,
        "prices": prices,
        "readings": readings,
        "distribution": shares or SHARES,
    }
    if trase is not None:
        doc["trase_eur_mwh"] = trase
    return doc


def settle_document(doc: dict[str, Any]) -> Settlement:
    return settle(parse_scenario(doc))
