"""A community month: what the GSE says and pays against what the platform computed.

Figures: the GSE's newest figures of the month against the platform's latest
completed run, as totals, per primary substation and per POD. The month's
difference (GSE minus platform, in cents) is classified by cause:

* ``GSE_MISSING_DATA``: a POD of the community the GSE has no data for (not in
  its points, not excluded) - its own amounts and, since shared energy is a
  minimum over the whole substation, the rest of the month's difference;
* ``PLANT_TREATED_DIFFERENTLY``: a plant the GSE excluded or pays the refund only;
* ``PARAMETER_DIFFERENCE``: the GSE applied another TRASe;
* ``DIFFERENT_DATA_SOURCE``: the platform's run used hours that were not the
  distributor's official data, and a POD's energy differs;
* ``ROUNDING``: a rest of at most a cent per point;
* ``UNEXPLAINED``: anything else, which stands out.

Payments: the GSE's stated advances against the ones the engine's formula gives,
what was paid for the month and in which payment, what the GSE carries over
under the €50 threshold, the advances against the month's final figure, and
the ledger's GSE receivable.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cacer.parameters import TRASE_EUR_MWH_BY_YEAR
from cerc_shared.auth import Principal
from cerc_shared.events.economic import ReconciliationCause, ReconciliationMismatch
from cerc_shared.outbox import record
from sqlalchemy.ext.asyncio import AsyncSession

from economic_service import repository
from economic_service.models import GseResult, SettlementRun, outbox, registry
from economic_service.service import ledger
from economic_service.service.access import require_admin
from economic_service.service.gse import calendar, true_up

TOTALS = (
    "shared_energy_kwh",
    "incentivised_shared_energy_kwh",
    "incentive_eur",
    "refund_eur",
    "total_eur",
)
SUBSTATION_FIELDS = (
    "fed_in_kwh",
    "withdrawn_kwh",
    "shared_energy_kwh",
    "incentivised_shared_energy_kwh",
    "incentive_eur",
    "refund_eur",
)


def _cents(eur: object) -> int:
    return int(Decimal(str(eur)) * 100)


def _dec(value: object) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _compare(
    platform: dict[str, Any] | None, gse: dict[str, Any] | None, fields: tuple[str, ...]
) -> dict[str, Any]:
    return {
        f: {
            "platform": str(platform[f]) if platform and f in platform else None,
            "gse": str(gse[f]) if gse and f in gse else None,
            "difference": str(_dec((gse or {}).get(f)) - _dec((platform or {}).get(f))),
        }
        for f in fields
    }


def _run_trase(run: SettlementRun) -> Decimal | None:
    said = (run.parameters or {}).get("trase_eur_mwh")
    # A run records the TRASe in force as {value, origin, source} (None: none known).
    if isinstance(said, dict) and said.get("value") is not None:
        return Decimal(str(said["value"]))
    if said and isinstance(said, str | int | float) and said != "engine table":
        return Decimal(str(said))
    year = int(run.period[:4])
    if year in TRASE_EUR_MWH_BY_YEAR:
        value: Decimal = TRASE_EUR_MWH_BY_YEAR[year].value
        return value
    return None


async def figures(
    session: AsyncSession, community_id: int, period: str, tolerance_cents: int
) -> dict[str, Any]:
    gse_row = await repository.latest_gse_result(session, community_id, period)
    run = await repository.latest_completed_run(session, community_id, period)
    out: dict[str, Any] = {
        "run_id": run.id if run else None,
        "run_kind": run.kind if run else None,
        "gse_result_id": gse_row.gse_id if gse_row else None,
        "gse_revision": gse_row.revision if gse_row else None,
        "gse_source": gse_row.source if gse_row else None,
        "tolerance_cents": tolerance_cents,
    }
    if gse_row is None or run is None or run.result is None:
        missing = [w for w, v in (("GSE figures", gse_row), ("a completed run", run)) if not v]
        return {
            **out,
            "status": "INCOMPLETE",
            "missing": missing,
            "difference_cents": None,
            "totals": {},
            "substations": [],
            "pods": [],
            "causes": [],
        }
    return {**out, **await _classify(session, community_id, period, run, gse_row, tolerance_cents)}


async def _classify(
    session: AsyncSession,
    community_id: int,
    period: str,
    run: SettlementRun,
    gse_row: GseResult,
    tolerance_cents: int,
) -> dict[str, Any]:
    ours: dict[str, Any] = run.result or {}
    theirs = gse_row.document
    start = calendar.month_start(period)
    reader = registry.reader(session)
    stays = await reader.plants_of_community(
        community_id, between=(start, calendar.next_month(start))
    )
    community_pods = {f.pod: f for f in (await reader.plants(s.plant_id for s in stays)).values()}
    our_plants = {p["pod"]: p for p in ours.get("plants", [])}
    their_points = {p["pod"]: p for p in theirs.get("points", [])}
    excluded = {p["pod"]: p for p in theirs.get("excluded_points", [])}
    official_only = set((run.coverage or {}).get("hours_by_source", {})) <= {"official"}

    pods = []
    causes: list[ReconciliationCause] = []
    for pod in sorted(set(community_pods) | set(their_points) | set(excluded)):
        mine, gse = our_plants.get(pod), their_points.get(pod)
        our_cents = _cents(mine["incentive_eur"]) + _cents(mine["refund_eur"]) if mine else 0
        gse_cents = _cents(gse["incentive_eur"]) + _cents(gse["refund_eur"]) if gse else 0
        if pod in excluded:
            status = "EXCLUDED"
        elif gse is None:
            status = "NO_DATA"
        else:
            status = "REFUND_ONLY" if gse.get("eligibility") == "REFUND_ONLY" else "COUNTED"
        energy_differs = bool(
            mine and gse and _dec(mine.get("fed_in_kwh")) != _dec(gse.get("fed_in_kwh"))
        )
        cause = None
        if status == "NO_DATA" and pod in community_pods:
            cause = "GSE_MISSING_DATA"
        elif status in ("EXCLUDED", "REFUND_ONLY"):
            cause = "PLANT_TREATED_DIFFERENTLY"
        if cause is not None:
            causes.append(
                ReconciliationCause(cause=cause, pod=pod, difference_cents=gse_cents - our_cents)
            )
        pods.append(
            {
                "pod": pod,
                "gse_status": status,
                "platform": {
                    k: mine.get(k)
                    for k in ("fed_in_kwh", "shared_energy_kwh", "incentive_eur", "refund_eur")
                }
                if mine
                else None,
                "gse": {
                    k: gse.get(k)
                    for k in (
                        "fed_in_kwh",
                        "withdrawn_kwh",
                        "shared_energy_kwh",
                        "incentive_eur",
                        "refund_eur",
                    )
                }
                if gse
                else None,
                "difference_cents": gse_cents - our_cents,
                "energy_differs": energy_differs,
                "cause": cause,
            }
        )

    difference = _cents(theirs["totals"]["total_eur"]) - (run.total_cents or 0)
    rest = difference - sum(c.difference_cents for c in causes)
    if rest:
        causes.append(_explain_rest(rest, causes, run, theirs, pods, official_only, period))
    for row in pods:
        if row["cause"] is None and row["difference_cents"]:
            row["cause"] = causes[-1].cause  # the month-wide cause explains this POD too
    substations_ours = {s["code"]: s for s in ours.get("substations", [])}
    substations_theirs = {s["code"]: s for s in theirs.get("substations", [])}
    return {
        "status": "MISMATCH" if abs(difference) > tolerance_cents else "MATCHED",
        "difference_cents": difference,
        "parameters": {
            "platform_trase_eur_mwh": str(_run_trase(run)),
            "gse_trase_eur_mwh": (theirs.get("parameters") or {}).get("trase_eur_mwh"),
        },
        "totals": _compare(ours, theirs["totals"], TOTALS),
        "substations": [
            {
                "code": code,
                **_compare(
                    substations_ours.get(code), substations_theirs.get(code), SUBSTATION_FIELDS
                ),
            }
            for code in sorted(set(substations_ours) | set(substations_theirs))
        ],
        "pods": pods,
        "causes": [c.model_dump() for c in causes if c.difference_cents or c.pod],
    }


def _explain_rest(
    rest: int,
    causes: list[ReconciliationCause],
    run: SettlementRun,
    theirs: dict[str, Any],
    pods: list[dict[str, Any]],
    official_only: bool,
    period: str,
) -> ReconciliationCause:
    """What the month's difference not carried by a POD of its own comes from."""
    missing = [c.pod for c in causes if c.cause == "GSE_MISSING_DATA"]
    their_trase = (theirs.get("parameters") or {}).get("trase_eur_mwh")
    ours = _run_trase(run)
    differing = [p["pod"] for p in pods if p["energy_differs"]]
    if abs(rest) <= max(1, len(pods)):
        return ReconciliationCause(cause="ROUNDING", pod=None, difference_cents=rest)
    if missing:
        # One POD less in a substation lowers everyone's shared energy there.
        return ReconciliationCause(
            cause="GSE_MISSING_DATA",
            pod=missing[0] if len(missing) == 1 else None,
            difference_cents=rest,
        )
    if their_trase is not None and ours is not None and Decimal(their_trase) != ours:
        return ReconciliationCause(cause="PARAMETER_DIFFERENCE", pod=None, difference_cents=rest)
    if differing and not official_only:
        return ReconciliationCause(
            cause="DIFFERENT_DATA_SOURCE",
            pod=differing[0] if len(differing) == 1 else None,
            difference_cents=rest,
        )
    treated = [c.pod for c in causes if c.cause == "PLANT_TREATED_DIFFERENTLY"]
    if treated:
        return ReconciliationCause(
            cause="PLANT_TREATED_DIFFERENTLY",
            pod=treated[0] if len(treated) == 1 else None,
            difference_cents=rest,
        )
    return ReconciliationCause(cause="UNEXPLAINED", pod=None, difference_cents=rest)


async def payments(session: AsyncSession, community_id: int, period: str) -> dict[str, Any]:
    expected = {e.pod: e for e in await repository.expected_payments(session, community_id, period)}
    stated = {a.pod: a for a in await repository.gse_advances(session, community_id, period)}
    advances = [
        {
            "pod": pod,
            "expected_cents": expected[pod].amount_cents if pod in expected else None,
            "gse_cents": stated[pod].amount_cents if pod in stated else None,
            "due_on": (stated.get(pod) or expected[pod]).due_on.isoformat(),
            "matches": pod in expected
            and pod in stated
            and expected[pod].amount_cents == stated[pod].amount_cents,
        }
        for pod in sorted(set(expected) | set(stated))
    ]
    paid: list[dict[str, Any]] = []
    for payment in await repository.gse_payments(session, community_id):
        for item in payment.items:
            if item.get("period") in (period, period[:4]):
                paid.append(
                    {
                        "payment_id": payment.gse_id,
                        "payment_date": payment.payment_date.isoformat(),
                        "kind": item.get("kind"),
                        "period": item.get("period"),
                        "amount_cents": _cents(item.get("amount_eur", "0")),
                        "transaction_id": payment.transaction_id,
                    }
                )
    balance = await repository.gse_balance(session, community_id)
    carried = [i for i in (balance.pending_items if balance else []) if i.get("period") == period]
    gse_row = await repository.latest_gse_result(session, community_id, period)
    advance_cents = sum(a.amount_cents for a in stated.values())
    final_cents = _cents(gse_row.document["totals"]["total_eur"]) if gse_row else None
    receivable = sum(
        cents
        for kind, _, cents in await repository.balances(session, community_id)
        if kind == ledger.GSE_RECEIVABLE
    )
    advance_paid = sum(int(p["amount_cents"]) for p in paid if p["kind"] == "ADVANCE")
    return {
        "advances": advances,
        "expected_advance_cents": sum(e.amount_cents for e in expected.values()),
        "gse_advance_cents": advance_cents,
        "advance_due_on": calendar.advance_due_on(period).isoformat(),
        "paid": paid,
        "advance_paid_cents": advance_paid,
        "carried_over": {
            "items": carried,
            "carried_over_cents": balance.carried_over_cents if balance else 0,
            "threshold_cents": calendar.MINIMUM_PAYMENT_CENTS,
            "last_run_on": balance.last_run_on.isoformat()
            if balance and balance.last_run_on
            else None,
        },
        "advance_vs_final": {
            "final_cents": final_cents,
            "advances_cents": advance_cents,
            # Settled by the year's true-up (conguaglio), due by 15 May of the next year.
            "true_up_cents": final_cents - advance_cents if final_cents is not None else None,
            "true_up_due_on": calendar.true_up_due_on(int(period[:4])).isoformat(),
        },
        "receivable_balance_cents": receivable,
        "received_total_cents": sum(
            p.amount_cents for p in await repository.gse_payments(session, community_id)
        ),
    }


async def reconcile(
    session: AsyncSession, principal: Principal, community_id: int, period: str, tolerance: int
) -> dict[str, Any]:
    await require_admin(session, principal, community_id)
    if len(period) == 4:
        return await year(session, community_id, int(period))
    return {
        "community_id": community_id,
        "period": period,
        "figures": await figures(session, community_id, period, tolerance),
        "payments": await payments(session, community_id, period),
    }


async def year(session: AsyncSession, community_id: int, year: int) -> dict[str, Any]:
    """The year's true-up: the GSE's final figures less its advances, against the
    conguaglio it stated and paid, and the ADJUSTMENT run that recorded it."""
    view = await true_up.year_view(session, community_id, year)
    run = await repository.true_up_run(session, community_id, year)
    stated = (run.result or {}).get("gse_true_up_cents") if run else None
    paid = [
        {
            "payment_id": p.gse_id,
            "payment_date": p.payment_date.isoformat(),
            "amount_cents": _cents(i.get("amount_eur", "0")),
        }
        for p in await repository.gse_payments(session, community_id)
        for i in p.items
        if i.get("kind") == "CONGUAGLIO" and i.get("period") == str(year)
    ]
    view.pop("fingerprint")
    return {
        "community_id": community_id,
        "period": str(year),
        "true_up": {
            **view,
            "gse_true_up_cents": stated,
            "matches": stated == view["expected_true_up_cents"] if stated is not None else None,
            "paid": paid,
            "adjustment_run_id": run.id if run else None,
        },
    }


async def announce_if_mismatch(
    session: AsyncSession, community_id: int, period: str, tolerance_cents: int
) -> bool:
    """reconciliation.v1 through the outbox, once per GSE figures and run that disagree."""
    found = await figures(session, community_id, period, tolerance_cents)
    if found["status"] != "MISMATCH":
        return False
    gse_row = await repository.latest_gse_result(session, community_id, period)
    assert gse_row is not None and found["run_id"] is not None
    first = await repository.insert_reconciliation_alert(
        session,
        {
            "community_id": community_id,
            "period": period,
            "gse_result_id": gse_row.id,
            "run_id": found["run_id"],
            "difference_cents": found["difference_cents"],
        },
    )
    if not first:
        return False
    await record(
        session,
        outbox,
        ReconciliationMismatch(
            community_id=community_id,
            period=period,
            run_id=found["run_id"],
            difference_cents=found["difference_cents"],
            tolerance_cents=tolerance_cents,
            causes=[ReconciliationCause(**c) for c in found["causes"]],
        ),
        producer="economic",
    )
    return True
