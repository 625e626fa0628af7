"""The books (``/transactions/``, ``/books/``) and members' benefits
(``/benefits/``, ``/members/me/``)."""

from __future__ import annotations

from decimal import Decimal

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import ApiError, Envelope, NotFound, ok
from cerc_shared.ids import PathId, QueryId
from fastapi import APIRouter, status

from economic_service import repository
from economic_service.models import MemberResult, SettlementRun, Transaction
from economic_service.schemas import (
    BalanceOut,
    BenefitOut,
    MyBenefitsOut,
    TransactionIn,
    TransactionOut,
    TransactionStatusIn,
)
from economic_service.service import books
from economic_service.service.access import require_admin

router = APIRouter(prefix="/api/economic", tags=["books"])


def _tx(tx: Transaction) -> TransactionOut:
    return TransactionOut(
        id=tx.id,
        community_id=tx.community_id,
        kind=tx.kind,
        status=tx.status,
        amount=Decimal(tx.amount_cents) / 100,
        user_id=tx.user_id,
        payment_method=tx.payment_method,
        reference=tx.reference,
        description=tx.description,
        entry_id=tx.entry_id,
        created_by=tx.created_by,
        created_at=tx.created_at,
        processed_at=tx.processed_at,
    )


def _benefit(run: SettlementRun, m: MemberResult) -> BenefitOut:
    return BenefitOut(
        community_id=run.community_id,
        period=run.period,
        run_id=run.id,
        user_id=m.user_id,
        as_producer_eur=Decimal(m.as_producer_cents) / 100,
        as_consumer_eur=Decimal(m.as_consumer_cents) / 100,
        eur=Decimal(m.cents) / 100,
        producer_shared_kwh=Decimal(m.producer_shared_wh) / 1000,
        contribution_kwh=Decimal(m.contribution_wh) / 1000,
    )


@router.post("/transactions/", status_code=status.HTTP_201_CREATED)
async def create_transaction(
    body: TransactionIn, session: DbSession, principal: CurrentPrincipal
) -> Envelope[TransactionOut]:
    tx = await books.create_transaction(session, principal, body)
    await session.refresh(tx)
    return ok(_tx(tx))


@router.post("/transactions/{tx_id}/status/")
async def set_transaction_status(
    tx_id: PathId, body: TransactionStatusIn, session: DbSession, principal: CurrentPrincipal
) -> Envelope[TransactionOut]:
    tx = await books.set_status(session, principal, tx_id, body.status)
    await session.flush()
    await session.refresh(tx)
    return ok(_tx(tx))


@router.get("/transactions/")
async def list_transactions(
    session: DbSession,
    principal: CurrentPrincipal,
    community_id: QueryId,
) -> Envelope[list[TransactionOut]]:
    return ok([_tx(t) for t in await books.transactions(session, principal, community_id)])


@router.get("/books/")
async def balances(
    session: DbSession,
    principal: CurrentPrincipal,
    community_id: QueryId,
) -> Envelope[list[BalanceOut]]:
    """Every account's balance (debits positive, credits negative; they sum to zero)."""
    await require_admin(session, principal, community_id)
    return ok(
        [
            BalanceOut(account=kind, user_id=user or None, balance_eur=Decimal(cents) / 100)
            for kind, user, cents in await repository.balances(session, community_id)
        ]
    )


@router.get("/benefits/")
async def benefits(
    session: DbSession,
    principal: CurrentPrincipal,
    community_id: QueryId,
) -> Envelope[list[BenefitOut]]:
    """Approved (FINAL) amounts: every member's for an admin, one's own for a member."""
    try:
        await require_admin(session, principal, community_id)
        user_id = None
    except ApiError as exc:
        if exc.status_code != 403 or not await books.is_member(session, principal, community_id):
            raise NotFound("community") from exc
        user_id = principal.user_id
    rows = await repository.final_member_results(
        session, user_id=user_id, community_id=community_id
    )
    return ok([_benefit(run, m) for run, m in rows])


@router.get("/members/me/")
async def my_benefits(session: DbSession, principal: CurrentPrincipal) -> Envelope[MyBenefitsOut]:
    """What I earned each approved month, as producer and as consumer; owed and paid."""
    rows = await repository.final_member_results(
        session, user_id=principal.user_id, community_id=None
    )
    owed, paid = await books.payable(session, principal.user_id)
    months = [_benefit(run, m) for run, m in rows]
    return ok(
        MyBenefitsOut(
            months=months,
            earned_eur=sum((b.eur for b in months), Decimal(0)),
            payable_eur=owed,
            paid_eur=paid,
        )
    )
