"""An approved month in the books: its distribution, the management fee, adjustments.

Posting the FINAL run of a month (on approval, or by ``POST /distribute/`` if an
approval's posting is missing) writes what the GSE owes, owed on to the fund and
each member; then the community's management fee in force on the month's first
day is deducted from each member's amount as a FEE entry (a PERCENT of it, half
up to the cent, or a FIXED amount per member, never more than the member's
amount). A completed ADJUSTMENT run is posted as the difference from the run the
books hold for the month (the FINAL or the last adjustment posted), never twice.
Every entry has a key naming the month and the run, so a retry posts nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cerc_shared.auth import Principal
from cerc_shared.envelope import ApiError
from sqlalchemy.ext.asyncio import AsyncSession

from economic_service import repository
from economic_service.models import AuditRecord, ManagementFee, MemberResult, SettlementRun
from economic_service.schemas import DistributeIn, FeeIn
from economic_service.service import ledger
from economic_service.service.access import require_admin
from economic_service.service.engine_input import month_bounds
from economic_service.service.ledger import Line


def fee_cents(fee: ManagementFee | None, member_cents: int) -> int:
    if fee is None or member_cents <= 0:
        return 0
    if fee.kind == "PERCENT":
        exact = Decimal(member_cents) * (fee.percent or Decimal(0)) / 100
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return min(fee.fixed_cents or 0, member_cents)


async def post_final(
    session: AsyncSession,
    final: SettlementRun,
    members: Sequence[MemberResult],
    by: int,
) -> bool:
    """The FINAL run's distribution and fees; False when they were posted before."""
    key = f"settlement:{final.community_id}:{final.period}:final"
    posted = await ledger.post(
        session,
        community_id=final.community_id,
        kind="SETTLEMENT_DISTRIBUTION",
        key=key,
        description=f"distribution of {final.period} (run {final.id}, "
        f"approving {final.approves_run_id})",
        lines=ledger.distribution_lines(
            final.total_cents or 0,
            final.community_cents or 0,
            [(m.user_id, m.cents) for m in members],
        ),
        created_by=by,
        settlement_run_id=final.id,
    )
    first_day, _ = month_bounds(final.period)
    fee = await repository.fee_in_force(session, final.community_id, first_day)
    fees = [(m.user_id, fee_cents(fee, m.cents)) for m in members]
    total_fees = sum(cents for _, cents in fees)
    if total_fees:
        await ledger.post(
            session,
            community_id=final.community_id,
            kind="FEE",
            key=f"{key}:fee",
            description=f"management fee on {final.period} ("
            + (f"{fee.percent}%" if fee and fee.kind == "PERCENT" else "fixed per member")
            + ")",
            lines=[
                *(Line(ledger.MEMBER_PAYABLE, cents, user) for user, cents in fees if cents),
                Line(ledger.FEES, -total_fees),
            ],
            created_by=by,
            settlement_run_id=final.id,
        )
    return posted is not None


@dataclass(frozen=True)
class Distributed:
    run: SettlementRun
    posted_now: bool
    difference_cents: int


async def distribute(
    session: AsyncSession, principal: Principal, body: DistributeIn
) -> Distributed:
    """Post an approved run (FINAL, or a completed ADJUSTMENT as its difference) if the
    books do not hold it yet; a community admin only; idempotent."""
    run = await repository.run(session, body.run_id)
    if run is None:
        raise ApiError(404, "not_found", "settlement run not found")
    try:
        await require_admin(session, principal, run.community_id)
    except ApiError as exc:
        if exc.status_code == 403:
            raise
        raise ApiError(404, "not_found", "settlement run not found") from exc
    if run.status != "COMPLETED" or run.kind not in ("FINAL", "ADJUSTMENT"):
        raise ApiError(
            409,
            "not_distributable",
            f"run {run.id} is {run.kind} {run.status}; only an approved (FINAL) run or a "
            "completed ADJUSTMENT of an approved month is posted",
            field="run_id",
        )
    members = await repository.member_results(session, run.id)
    if run.kind == "FINAL":
        posted = await post_final(session, run, members, principal.user_id)
        _audit(session, principal, run, "distribution.posted" if posted else "distribution.again")
        return Distributed(run, posted, 0)
    return await _post_adjustment(session, principal, run, members)


async def _post_adjustment(
    session: AsyncSession,
    principal: Principal,
    run: SettlementRun,
    members: Sequence[MemberResult],
) -> Distributed:
    base = await repository.last_posted_run(session, run.community_id, run.period)
    if base is None:
        raise ApiError(
            409, "not_approved", f"{run.period} has no posted FINAL run to adjust", field="run_id"
        )
    if base.id == run.id:
        return Distributed(run, False, 0)  # posted before: a retry
    if base.id > run.id:
        raise ApiError(
            409,
            "superseded",
            f"run {base.id}, later than {run.id}, is already in the books for {run.period}",
            field="run_id",
        )
    before = {m.user_id: m.cents for m in await repository.member_results(session, base.id)}
    after = {m.user_id: m.cents for m in members}
    delta_total = (run.total_cents or 0) - (base.total_cents or 0)
    delta_fund = (run.community_cents or 0) - (base.community_cents or 0)
    deltas = [
        (user, after.get(user, 0) - before.get(user, 0))
        for user in sorted(before.keys() | after.keys())
    ]
    await ledger.post(
        session,
        community_id=run.community_id,
        kind="SETTLEMENT_ADJUSTMENT",
        key=f"settlement:{run.community_id}:{run.period}:adjustment:{run.id}",
        description=f"adjustment of {run.period} (run {run.id} over run {base.id})",
        # Every run sums exactly, so the differences do too; an all-zero entry (no
        # postings) still records that the books now hold this run.
        lines=ledger.distribution_lines(delta_total, delta_fund, deltas),
        created_by=principal.user_id,
        settlement_run_id=run.id,
    )
    _audit(session, principal, run, "adjustment.posted", {"over_run_id": base.id})
    return Distributed(run, True, delta_total)


def _audit(
    session: AsyncSession,
    principal: Principal,
    run: SettlementRun,
    action: str,
    extra: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditRecord(
            community_id=run.community_id,
            actor_user_id=principal.user_id,
            action=action,
            details={"run_id": run.id, "period": run.period, "kind": run.kind, **(extra or {})},
        )
    )


async def set_fee(session: AsyncSession, principal: Principal, body: FeeIn) -> ManagementFee:
    await require_admin(session, principal, body.community_id)
    if body.kind == "PERCENT" and body.percent is None:
        raise ApiError(
            422, "invalid", "a PERCENT fee names its percent", field="percent", expected="0-100"
        )
    if body.kind == "FIXED_PER_MEMBER" and body.amount is None:
        raise ApiError(
            422, "invalid", "a FIXED_PER_MEMBER fee names its amount", field="amount",
            expected="euro, 2 decimals",
        )  # fmt: skip
    existing = {
        f.valid_from for f in await repository.fees_of_community(session, body.community_id)
    }
    if body.valid_from in existing:
        raise ApiError(
            409,
            "fee_exists",
            f"a fee from {body.valid_from} exists; fees are dated, add one from a later day",
            field="valid_from",
        )
    fee = ManagementFee(
        community_id=body.community_id,
        valid_from=body.valid_from,
        kind=body.kind,
        percent=body.percent if body.kind == "PERCENT" else None,
        fixed_cents=int(body.amount * 100)
        if body.kind == "FIXED_PER_MEMBER" and body.amount
        else None,
        created_by=principal.user_id,
    )
    session.add(fee)
    await session.flush()
    session.add(
        AuditRecord(
            community_id=body.community_id,
            actor_user_id=principal.user_id,
            action="fee.set",
            details={
                "valid_from": body.valid_from.isoformat(),
                "kind": body.kind,
                "percent": str(fee.percent) if fee.percent is not None else None,
                "fixed_cents": fee.fixed_cents,
            },
        )
    )
    return fee


async def fees(
    session: AsyncSession, principal: Principal, community_id: int
) -> list[ManagementFee]:
    await require_admin(session, principal, community_id)
    return await repository.fees_of_community(session, community_id)
