"""What the GSE says and pays, stored once however it arrives (pulled from its API
or uploaded as its file): a month's figures (a new row only when they change), the
advances it states, its payments (each closing the receivable once, through the
books) and its balance carried over under the €50 threshold; and the advances
the platform expects by the engine's formula."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from cacer import Plant
from cacer.advance import monthly_advance_cents
from cacer.parameters import Technology
from sqlalchemy.ext.asyncio import AsyncSession

from economic_service import events, repository
from economic_service.models import Transaction, registry
from economic_service.service import ledger
from economic_service.service.gse import calendar

SYSTEM_USER = 0  # the schedule, not a person


def cents(eur: str | Decimal | int) -> int:
    """The GSE's euro strings ("12.34") in cents; never through a float."""
    value = Decimal(str(eur)) * 100
    if value != value.to_integral_value():
        raise ValueError(f"{eur} has more than two decimals")
    return int(value)


def content_sha256(document: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


async def store_result(
    session: AsyncSession, community_id: int, document: dict[str, Any], source: str
) -> int | None:
    """The new row's id when the figures are new or changed, else None."""
    return await repository.insert_gse_result(
        session,
        {
            "community_id": community_id,
            "month": document["month"],
            "gse_id": document["id"],
            "revision": int(document.get("revision") or 0),
            "content_sha256": content_sha256(document),
            "source": source,
            "document": document,
        },
    )


async def store_advance(session: AsyncSession, community_id: int, line: dict[str, Any]) -> bool:
    return await repository.insert_gse_advance(
        session,
        {
            "gse_id": line["id"],
            "community_id": community_id,
            "month": line["month"],
            "pod": line["pod"],
            "amount_cents": cents(line["amount_eur"]),
            "due_on": date.fromisoformat(line["due_on"]),
        },
    )


async def record_payment(
    session: AsyncSession,
    community_id: int,
    payment: dict[str, Any],
    *,
    source: str,
    actor: int = SYSTEM_USER,
) -> bool:
    """A payment the GSE made: stored by its id, and the first time only a
    PROCESSED GSE_PAYMENT transaction whose balanced entry (bank up, receivable
    down) closes what the GSE owed. False when it was known already."""
    amount = cents(payment["amount_eur"])
    new = await repository.insert_gse_payment(
        session,
        {
            "gse_id": payment["id"],
            "community_id": community_id,
            "payment_date": date.fromisoformat(payment["payment_date"]),
            "amount_cents": amount,
            "items": payment.get("items") or [],
            "source": source,
        },
    )
    if not new:
        return False
    tx = Transaction(
        community_id=community_id,
        kind="GSE_PAYMENT",
        status="PROCESSED",
        amount_cents=amount,
        payment_method="GSE",
        reference=payment["id"],
        description=f"GSE payment of {payment['payment_date']}",
        created_by=actor,
        processed_at=datetime.now(UTC),
    )
    session.add(tx)
    await session.flush()
    tx.entry_id = await ledger.post(
        session,
        community_id=community_id,
        kind="GSE_PAYMENT",
        key=f"gse-payment:{payment['id']}",
        description=f"GSE payment {payment['id']} of {payment['payment_date']}",
        lines=[ledger.Line(ledger.BANK, amount), ledger.Line(ledger.GSE_RECEIVABLE, -amount)],
        created_by=actor,
    )
    stored = await repository.gse_payment(session, payment["id"])
    assert stored is not None
    stored.transaction_id = tx.id
    await events.transaction_changed(session, tx)
    return True


async def store_balance(session: AsyncSession, community_id: int, balance: dict[str, Any]) -> None:
    last = balance.get("last_run_on")
    await repository.save_gse_balance(
        session,
        community_id,
        cents(balance.get("carried_over_eur") or "0"),
        list(balance.get("pending_items") or []),
        date.fromisoformat(last) if last else None,
    )


async def expect_advances(session: AsyncSession, community_id: int, period: str) -> int:
    """Post the month's expected advance per producing plant (the engine's
    ``monthly_advance_cents``) as expected GSE payments; their total."""
    start = calendar.month_start(period)
    end = calendar.next_month(start)
    reader = registry.reader(session)
    stays = await reader.plants_of_community(community_id, between=(start, end))
    plants = await reader.plants(stay.plant_id for stay in stays)
    due = calendar.advance_due_on(period)
    total = 0
    for facts in plants.values():
        if facts.plant_type not in ("PRODUCER", "PROSUMER"):
            continue
        if None in (facts.nominal_power_kw, facts.technology, facts.region):
            continue
        plant = engine_plant(
            facts.nominal_power_kw,
            facts.technology,
            facts.region,
            facts.entry_into_service,
            facts.capital_grant_eur_per_kw,
        )
        if plant is None:
            continue
        amount = monthly_advance_cents(plant)
        total += amount
        await repository.save_expected_payment(
            session,
            {
                "community_id": community_id,
                "period": period,
                "pod": facts.pod,
                "kind": "ADVANCE",
                "amount_cents": amount,
                "due_on": due,
            },
        )
    return total


def engine_plant(
    power_kw: Decimal | None,
    technology: str | None,
    region: str | None,
    entry: date | None,
    grant: Decimal | None,
) -> Plant | None:
    if power_kw is None or technology is None or region is None or entry is None:
        return None
    try:
        kind = Technology(technology)
    except ValueError:
        return None
    return Plant(power_kw, kind, region, entry, grant or Decimal(0))
