"""The annual true-up (conguaglio, cer-rules §6): by 15 May of Y+1 the GSE pays
the year's final figures less the advances it paid (negative when the advances
were too high). When the GSE states a year's conguaglio (paid, or carried over
under the €50 threshold), the platform records it as an ADJUSTMENT run of the
year (period ``YYYY``): the GSE's final figures per month against the platform's
approved (else latest) run of each month, the advances, and the true-up the
figures imply against the one the GSE stated. One run per distinct set of GSE
figures: pulled again, nothing new; recalculated (June, December), a new run.

Not done here: owing each member their part of the year's difference (that is
an ADJUSTMENT of each month through the settlement runs, once approved).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from economic_service import repository
from economic_service.models import SettlementRun
from economic_service.service.gse import calendar, statements


def stated_true_ups(
    payments: list[dict[str, Any]], balance: dict[str, Any] | None
) -> dict[int, int]:
    """Year -> the conguaglio the GSE stated, in cents (paid or still pending)."""
    items = [i for p in payments for i in p.get("items", [])]
    items += list((balance or {}).get("pending_items") or [])
    out: dict[int, int] = {}
    for item in items:
        if item.get("kind") == "CONGUAGLIO" and str(item.get("period", "")).isdigit():
            out[int(item["period"])] = statements.cents(item["amount_eur"])
    return out


async def year_view(session: AsyncSession, community_id: int, year: int) -> dict[str, Any]:
    results = await repository.latest_gse_results_of_year(session, community_id, year)
    advances = await repository.gse_advances_of_year(session, community_id, year)
    months: list[dict[str, Any]] = []
    for row in results:
        run = await repository.platform_run_of_month(session, community_id, row.month)
        gse_cents = statements.cents(row.document["totals"]["total_eur"])
        months.append(
            {
                "month": row.month,
                "gse_result_id": row.gse_id,
                "gse_revision": row.revision,
                "gse_cents": gse_cents,
                "run_id": run.id if run else None,
                "run_kind": run.kind if run else None,
                "platform_cents": run.total_cents if run else None,
                "difference_cents": gse_cents - (run.total_cents or 0) if run else None,
                "advances_cents": sum(a.amount_cents for a in advances if a.month == row.month),
            }
        )
    figures = sum(m["gse_cents"] for m in months)
    advanced = sum(a.amount_cents for a in advances)
    return {
        "year": year,
        "months": months,
        "gse_figures_cents": figures,
        "platform_cents": sum(m["platform_cents"] or 0 for m in months),
        "advances_cents": advanced,
        "expected_true_up_cents": figures - advanced,
        "due_on": calendar.true_up_due_on(year).isoformat(),
        "fingerprint": hashlib.sha256(
            json.dumps([(r.gse_id, r.content_sha256) for r in results]).encode()
        ).hexdigest(),
    }


async def record_true_up(
    session: AsyncSession, community_id: int, year: int, stated_cents: int
) -> SettlementRun | None:
    """The year's ADJUSTMENT run, unless these very figures were recorded before."""
    view = await year_view(session, community_id, year)
    if not view["months"]:
        return None
    if await repository.true_up_run(session, community_id, year, view["fingerprint"]):
        return None
    previous = await repository.true_up_run(session, community_id, year)
    now = datetime.now(UTC)
    run = SettlementRun(
        community_id=community_id,
        period=f"{year:04d}",
        kind="ADJUSTMENT",
        status="COMPLETED",
        progress=100,
        requested_by=statements.SYSTEM_USER,
        previous_run_id=previous.id if previous else None,
        inputs_fingerprint=view["fingerprint"],
        parameters={"source": "GSE conguaglio"},
        result={**view, "gse_true_up_cents": stated_cents},
        total_cents=view["gse_figures_cents"],
        difference={
            "total_cents": view["gse_figures_cents"] - view["platform_cents"],
            "true_up_cents": stated_cents - view["expected_true_up_cents"],
        },
        started_at=now,
        finished_at=now,
    )
    session.add(run)
    await session.flush()
    return run
