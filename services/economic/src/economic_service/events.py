"""What the economic service tells others, through its outbox (settlement.v1, transaction.v1,
payout.v1)."""

from __future__ import annotations

from cerc_shared.events.economic import (
    MemberAmount,
    PayoutCreated,
    PayoutLeftOut,
    PayoutTransferFailed,
    PayoutTransferProcessed,
    SettlementApproved,
    SettlementComputed,
    TransactionCreated,
    TransactionSettled,
)
from cerc_shared.events.economic import PayoutTransfer as TransferFacts
from cerc_shared.outbox import record
from sqlalchemy.ext.asyncio import AsyncSession

from economic_service.models import (
    MemberResult,
    Payout,
    PayoutTransfer,
    SettlementRun,
    Transaction,
    outbox,
)

PRODUCER = "economic"


async def run_computed(session: AsyncSession, run: SettlementRun) -> None:
    await record(
        session,
        outbox,
        SettlementComputed(
            run_id=run.id,
            community_id=run.community_id,
            period=run.period,
            kind=run.kind,
            status=run.status,
            total_cents=run.total_cents,
            community_cents=run.community_cents,
            inputs_fingerprint=run.inputs_fingerprint,
            error_codes=sorted({str(e.get("code")) for e in run.errors or []}),
        ),
        producer=PRODUCER,
    )


async def run_approved(
    session: AsyncSession, final: SettlementRun, members: list[MemberResult], by: int
) -> None:
    await record(
        session,
        outbox,
        SettlementApproved(
            run_id=final.id,
            community_id=final.community_id,
            period=final.period,
            kind="FINAL",
            approves_run_id=final.approves_run_id or 0,
            approved_by=by,
            total_cents=final.total_cents or 0,
            community_cents=final.community_cents or 0,
            members=[
                MemberAmount(
                    user_id=m.user_id,
                    as_producer_cents=m.as_producer_cents,
                    as_consumer_cents=m.as_consumer_cents,
                )
                for m in members
            ],
        ),
        producer=PRODUCER,
    )


async def transaction_changed(session: AsyncSession, tx: Transaction) -> None:
    event = TransactionCreated if tx.status == "PENDING" else TransactionSettled
    await record(
        session,
        outbox,
        event(
            transaction_id=tx.id,
            community_id=tx.community_id,
            kind=tx.kind,
            status=tx.status,
            amount_cents=tx.amount_cents,
            user_id=tx.user_id,
        ),
        producer=PRODUCER,
    )


async def payout_created(
    session: AsyncSession, payout: Payout, transfers: list[PayoutTransfer]
) -> None:
    await record(
        session,
        outbox,
        PayoutCreated(
            payout_id=payout.id,
            community_id=payout.community_id,
            created_by=payout.created_by,
            total_cents=payout.total_cents,
            transfers=[
                TransferFacts(transfer_id=t.id, user_id=t.user_id, amount_cents=t.amount_cents)
                for t in transfers
            ],
            left_out=[PayoutLeftOut.model_validate(item) for item in payout.left_out],
        ),
        producer=PRODUCER,
    )


async def transfer_decided(session: AsyncSession, transfer: PayoutTransfer) -> None:
    facts = {
        "payout_id": transfer.payout_id,
        "community_id": transfer.community_id,
        "transfer_id": transfer.id,
        "user_id": transfer.user_id,
        "amount_cents": transfer.amount_cents,
    }
    event = (
        PayoutTransferProcessed(**facts)
        if transfer.status == "PROCESSED"
        else PayoutTransferFailed(**facts, reason=transfer.reason or "rejected by the bank")
    )
    await record(session, outbox, event, producer=PRODUCER)
