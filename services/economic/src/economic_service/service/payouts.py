"""Payouts: members' approved, unpaid balances paid by SEPA credit transfer.

A community admin creates a batch: every member the books owe money (a credit
balance on MEMBER_PAYABLE) is paid one transfer from the community's account,
unless they have no valid IBAN at the CER service or are owed less than the
community's minimum; those are listed and left out, their balance carried
forward. Creating the batch moves the amounts from the members' balances to
PAYOUTS_IN_TRANSIT (one balanced entry) and stores the pain.001 file; the
bank's status report (pain.002) then settles each transfer: executed, the
money leaves BANK; rejected, a balancing entry returns it to the member.

Batches of one community are made one at a time (the payout account's row is
locked), so a request retried after a lost answer finds nothing left to pay and
writes nothing; every entry's key is unique, so no transfer is posted twice.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cerc_sepa import (
    Debtor,
    Outcome,
    SepaError,
    StatusReport,
    StatusReportError,
    Transfer,
    build_pain001,
    parse_pain002,
)
from cerc_shared.auth import Principal
from cerc_shared.clock import italian_now, italian_today
from cerc_shared.envelope import ApiError, NotFound
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from economic_service import events, repository
from economic_service.models import AuditRecord, Payout, PayoutAccount, PayoutTransfer
from economic_service.payees import PayeeSource, PayeesUnavailable
from economic_service.schemas import PayoutAccountIn, PayoutIn
from economic_service.service import ledger
from economic_service.service.access import require_admin
from economic_service.service.ledger import Line

PAYOUTS_IN_TRANSIT = "PAYOUTS_IN_TRANSIT"
#: A status report is a few kilobytes per hundred transfers; far more is not one.
MAX_STATUS_REPORT_BYTES = 5 * 1024 * 1024
PAIN002 = "a pain.002.001.03 to .10 status report answering this payout's pain.001"


def _valid_iban(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(IBAN(value).compact)
    except SchwiftyException:
        return None


def _audit(
    session: AsyncSession,
    principal: Principal,
    community_id: int,
    action: str,
    details: dict[str, Any],
) -> None:
    session.add(
        AuditRecord(
            community_id=community_id,
            actor_user_id=principal.user_id,
            action=action,
            details=details,
        )
    )


# ------------------------------------------------------------------ the account


async def set_account(
    session: AsyncSession, principal: Principal, body: PayoutAccountIn
) -> PayoutAccount:
    await require_admin(session, principal, body.community_id)
    try:
        iban = str(IBAN(body.iban).compact)
    except SchwiftyException as exc:
        raise ApiError(
            422, "invalid", f"not a valid IBAN: {exc}", field="iban", expected="an IBAN"
        ) from exc
    bic: str | None = None
    if body.bic is not None:
        try:
            bic = str(BIC(body.bic).compact)
        except SchwiftyException as exc:
            raise ApiError(
                422, "invalid", f"not a valid BIC: {exc}", field="bic", expected="a BIC"
            ) from exc
    minimum_cents = int(body.minimum_amount * 100)
    account = await repository.payout_account(session, body.community_id, lock=True)
    before = None
    if account is None:
        account = PayoutAccount(community_id=body.community_id)
        session.add(account)
    else:
        before = {"iban_last4": account.iban[-4:], "minimum_cents": account.minimum_cents}
    account.debtor_name = body.debtor_name.strip()
    account.iban, account.bic, account.minimum_cents = iban, bic, minimum_cents
    account.updated_by = principal.user_id
    account.updated_at = datetime.now(UTC)
    await session.flush()
    _audit(
        session,
        principal,
        body.community_id,
        "payout_account.set",
        {
            "before": before,
            "after": {"iban_last4": iban[-4:], "minimum_cents": minimum_cents},
        },
    )
    return account


async def account(session: AsyncSession, principal: Principal, community_id: int) -> PayoutAccount:
    await require_admin(session, principal, community_id)
    found = await repository.payout_account(session, community_id)
    if found is None:
        raise NotFound("payout account")
    return found


# ------------------------------------------------------------------ batches


@dataclass(frozen=True)
class _Planned:
    user_id: int
    name: str
    iban: str
    amount_cents: int


async def create_payout(
    session: AsyncSession, principal: Principal, body: PayoutIn, payee_source: PayeeSource
) -> Payout:
    await require_admin(session, principal, body.community_id)
    today = italian_today()
    execution_date = body.execution_date or today + timedelta(days=1)
    if execution_date < today:
        raise ApiError(
            422,
            "invalid",
            f"execution date {execution_date} is in the past",
            field="execution_date",
            expected=f"{today} or later",
        )
    debtor = await repository.payout_account(session, body.community_id, lock=True)
    if debtor is None:
        raise ApiError(
            409,
            "payout_account_missing",
            "the community has no payout account: PUT /api/economic/payouts/account/ first",
            field="community_id",
        )
    owed = {
        u: c
        for u, c in (await repository.member_payables(session, body.community_id)).items()
        if c > 0
    }
    if not owed:
        raise ApiError(409, "nothing_to_pay", "no member is owed an approved, unpaid amount")
    try:
        payees = await payee_source.payees(body.community_id)
    except PayeesUnavailable as exc:
        raise ApiError(503, "registry_unavailable", str(exc)) from exc

    planned: list[_Planned] = []
    left_out: list[dict[str, Any]] = []
    for user_id, cents in sorted(owed.items()):
        payee = payees.get(user_id)
        iban = _valid_iban(payee.iban if payee else None)
        if cents < debtor.minimum_cents:
            left_out.append({"user_id": user_id, "amount_cents": cents, "reason": "BELOW_MINIMUM"})
        elif iban is None:
            left_out.append({"user_id": user_id, "amount_cents": cents, "reason": "NO_VALID_IBAN"})
        else:
            name = (payee.name if payee else None) or f"Member {user_id}"
            planned.append(_Planned(user_id, name[:70], iban, cents))
    if not planned:
        below = sum(1 for item in left_out if item["reason"] == "BELOW_MINIMUM")
        raise ApiError(
            409,
            "nothing_to_pay",
            f"{len(left_out)} members are owed money but none can be paid now: "
            f"{len(left_out) - below} without a valid IBAN, {below} below the minimum",
        )

    total = sum(p.amount_cents for p in planned)
    payout = Payout(
        community_id=body.community_id,
        status="CREATED",
        message_id=uuid.uuid4().hex[:32],  # replaced below, once the id is known
        execution_date=execution_date,
        total_cents=total,
        debtor_iban=debtor.iban,
        left_out=left_out,
        file=b"",
        file_sha256="",
        created_by=principal.user_id,
    )
    session.add(payout)
    await session.flush()
    payout.message_id = f"CERC-PAYOUT-{payout.id}"
    transfers = [
        PayoutTransfer(
            payout_id=payout.id,
            community_id=payout.community_id,
            user_id=p.user_id,
            creditor_name=p.name,
            iban_last4=p.iban[-4:],
            amount_cents=p.amount_cents,
            end_to_end_id=uuid.uuid4().hex[:32],
            status="PENDING",
        )
        for p in planned
    ]
    session.add_all(transfers)
    await session.flush()
    for t in transfers:
        t.end_to_end_id = f"CERC-T{t.id}"
    remittance = f"CER {body.community_id} - ripartizione benefici / benefit payout {payout.id}"
    try:
        payout.file = await run_in_threadpool(
            build_pain001,
            Debtor(debtor.debtor_name, debtor.iban, debtor.bic),
            [
                Transfer(t.end_to_end_id, t.creditor_name, p.iban, t.amount_cents, remittance)
                for t, p in zip(transfers, planned, strict=True)
            ],
            message_id=payout.message_id,
            execution_date=execution_date,
            created_at=italian_now().replace(tzinfo=None, microsecond=0),
        )
    except SepaError as exc:
        raise ApiError(422, "payout_file_refused", "; ".join(exc.problems)) from exc
    payout.file_sha256 = hashlib.sha256(payout.file).hexdigest()
    payout.entry_id = await ledger.post(
        session,
        community_id=payout.community_id,
        kind="PAYOUT",
        key=f"payout:{payout.id}",
        description=f"payout {payout.id}: {len(transfers)} SEPA transfers",
        lines=[
            *(Line(ledger.MEMBER_PAYABLE, t.amount_cents, t.user_id) for t in transfers),
            Line(PAYOUTS_IN_TRANSIT, -total),
        ],
        created_by=principal.user_id,
    )
    await session.flush()
    _audit(
        session,
        principal,
        payout.community_id,
        "payout.created",
        {
            "payout_id": payout.id,
            "total_cents": total,
            "transfers": len(transfers),
            "left_out": left_out,
            "file_sha256": payout.file_sha256,
        },
    )
    await events.payout_created(session, payout, transfers)
    return payout


async def visible_payout(
    session: AsyncSession, principal: Principal, payout_id: int, *, lock: bool = False
) -> Payout:
    """The payout, for an admin of its community; a member 403, anyone else 404."""
    payout = await repository.payout(session, payout_id, lock=lock)
    if payout is None:
        raise NotFound("payout")
    try:
        await require_admin(session, principal, payout.community_id)
    except ApiError as exc:
        if exc.status_code == 403:
            raise
        raise NotFound("payout") from exc
    return payout


async def payouts(session: AsyncSession, principal: Principal, community_id: int) -> list[Payout]:
    await require_admin(session, principal, community_id)
    return await repository.payouts_of_community(session, community_id)


# ------------------------------------------------------------------ the bank's answer


@dataclass(frozen=True)
class ReportApplied:
    payout: Payout
    processed: int
    failed: int
    still_pending: int
    unchanged: int


def _bad_report(message: str) -> ApiError:
    return ApiError(422, "invalid_status_report", message, field="file", expected=PAIN002)


async def apply_status_report(
    session: AsyncSession, principal: Principal, payout_id: int, data: bytes
) -> ReportApplied:
    """Mark each transfer the report decides; all of it or, on any problem, nothing."""
    payout = await visible_payout(session, principal, payout_id, lock=True)
    if len(data) > MAX_STATUS_REPORT_BYTES:
        raise _bad_report(f"the file exceeds {MAX_STATUS_REPORT_BYTES} bytes")
    try:
        report = await run_in_threadpool(parse_pain002, data)
    except StatusReportError as exc:
        raise _bad_report("; ".join(exc.problems)) from exc
    if report.original_message_id != payout.message_id:
        raise _bad_report(
            f"the report answers message {report.original_message_id!r}, "
            f"not this payout's {payout.message_id!r}"
        )
    transfers = await repository.payout_transfers(session, payout.id, lock=True)
    by_e2e = {t.end_to_end_id: t for t in transfers}
    for reported in report.transfers:
        transfer = by_e2e.get(reported.end_to_end_id)
        if transfer is None:
            raise _bad_report(
                f"end-to-end id {reported.end_to_end_id!r} is not a transfer of this payout"
            )
        if reported.amount_cents is not None and reported.amount_cents != transfer.amount_cents:
            raise _bad_report(
                f"{reported.end_to_end_id}: the report says {reported.amount_cents} cents, "
                f"the transfer was {transfer.amount_cents}"
            )
    counts = {"PROCESSED": 0, "FAILED": 0, "PENDING": 0, "unchanged": 0}
    decided_now: list[PayoutTransfer] = []
    for transfer in transfers:
        outcome = report.outcome_for(transfer.end_to_end_id)
        if transfer.status != "PENDING":
            if outcome not in (Outcome.PENDING, Outcome(transfer.status)):
                raise _bad_report(
                    f"{transfer.end_to_end_id} was already {transfer.status}; "
                    f"this report says {outcome.value}"
                )
            counts["unchanged"] += 1
            continue
        if outcome is Outcome.PENDING:
            counts["PENDING"] += 1
            continue
        transfer.status = outcome.value
        transfer.decided_at = datetime.now(UTC)
        if outcome is Outcome.FAILED:
            transfer.reason = _reason(report, transfer.end_to_end_id)
        counts[outcome.value] += 1
        decided_now.append(transfer)
    for transfer in decided_now:
        amount, user = transfer.amount_cents, transfer.user_id
        settled = (
            Line(ledger.BANK, -amount)
            if transfer.status == "PROCESSED"
            # Rejected: a balancing entry owes the amount to the member again.
            else Line(ledger.MEMBER_PAYABLE, -amount, user)
        )
        transfer.entry_id = await ledger.post(
            session,
            community_id=payout.community_id,
            kind="PAYOUT_PROCESSED" if transfer.status == "PROCESSED" else "PAYOUT_FAILED",
            key=f"payout-transfer:{transfer.id}",
            description=f"payout {payout.id}, {transfer.end_to_end_id}: {transfer.status}",
            lines=[Line(PAYOUTS_IN_TRANSIT, amount), settled],
            created_by=principal.user_id,
        )
        await events.transfer_decided(session, transfer)
    if all(t.status != "PENDING" for t in transfers):
        payout.status = "COMPLETED"
    elif any(t.status != "PENDING" for t in transfers):
        payout.status = "PARTLY_SETTLED"
    await session.flush()
    _audit(
        session,
        principal,
        payout.community_id,
        "payout.status_report",
        {
            "payout_id": payout.id,
            "report_message_id": report.message_id,
            "processed": counts["PROCESSED"],
            "failed": counts["FAILED"],
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    )
    return ReportApplied(
        payout, counts["PROCESSED"], counts["FAILED"], counts["PENDING"], counts["unchanged"]
    )


def _reason(report: StatusReport, end_to_end_id: str) -> str:
    for t in report.transfers:
        if t.end_to_end_id == end_to_end_id and t.reasons:
            return (
                "; ".join(" ".join(p for p in (r.code, r.text) if p) for r in t.reasons)[:300]
                or "rejected by the bank"
            )
    reasons = report.group_reasons
    if reasons:
        return "; ".join(" ".join(p for p in (r.code, r.text) if p) for r in reasons)[:300]
    return "rejected by the bank"
