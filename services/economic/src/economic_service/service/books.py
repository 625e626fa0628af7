"""Transactions and their postings; members' benefits."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from cerc_shared.auth import Principal
from cerc_shared.clock import italian_today
from cerc_shared.envelope import ApiError, NotFound
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from economic_service import events, repository
from economic_service.models import AuditRecord, Transaction, registry
from economic_service.schemas import TransactionIn
from economic_service.service import ledger
from economic_service.service.access import require_admin
from economic_service.service.ledger import Line

NEEDS_MEMBER = ("BENEFIT_DISTRIBUTION", "ADJUSTMENT")


def _lines(tx: Transaction) -> list[Line]:
    amount, user = tx.amount_cents, tx.user_id or 0
    if tx.kind == "GSE_PAYMENT":  # the GSE paid what it owed: cash in, receivable down
        return [Line(ledger.BANK, amount), Line(ledger.GSE_RECEIVABLE, -amount)]
    if tx.kind == "BENEFIT_DISTRIBUTION":  # a member paid: payable down, cash out
        return [Line(ledger.MEMBER_PAYABLE, amount, user), Line(ledger.BANK, -amount)]
    if tx.kind == "FEE":  # a management fee, from a member's amount or the fund
        source = (
            Line(ledger.MEMBER_PAYABLE, amount, user)
            if user
            else Line(ledger.COMMUNITY_FUND, amount)
        )
        return [source, Line(ledger.FEES, -amount)]
    # ADJUSTMENT: the fund owes the member more.
    return [Line(ledger.COMMUNITY_FUND, amount), Line(ledger.MEMBER_PAYABLE, -amount, user)]


async def create_transaction(
    session: AsyncSession, principal: Principal, body: TransactionIn
) -> Transaction:
    await require_admin(session, principal, body.community_id)
    if body.kind in NEEDS_MEMBER and body.user_id is None:
        raise ApiError(
            422, "invalid", f"a {body.kind} names the member", field="user_id", expected="a user id"
        )
    if body.user_id is not None:
        members = await registry.reader(session).memberships_of_community(body.community_id)
        if all(m.user_id != body.user_id for m in members):
            raise ApiError(
                422,
                "invalid",
                f"user {body.user_id} was never a member of community {body.community_id}",
                field="user_id",
                expected="a member of the community",
            )
    tx = Transaction(
        community_id=body.community_id,
        kind=body.kind,
        status="PENDING",
        amount_cents=int(body.amount * 100),
        user_id=body.user_id,
        payment_method=body.payment_method,
        reference=body.reference,
        description=body.description,
        created_by=principal.user_id,
    )
    session.add(tx)
    await session.flush()
    _audit(session, principal, tx, "transaction.created")
    await events.transaction_changed(session, tx)
    return tx


async def set_status(
    session: AsyncSession, principal: Principal, tx_id: int, status: str
) -> Transaction:
    tx = await session.scalar(select(Transaction).where(Transaction.id == tx_id).with_for_update())
    if tx is None:
        raise NotFound("transaction")
    try:
        await require_admin(session, principal, tx.community_id)
    except ApiError as exc:
        if exc.status_code == 403:
            raise
        raise NotFound("transaction") from exc
    if tx.status != "PENDING":
        if tx.status == status:
            return tx  # a retry of the same change
        raise ApiError(409, "not_pending", f"transaction {tx.id} is {tx.status}")
    tx.status = status
    tx.processed_at = datetime.now(UTC)
    if status == "PROCESSED":
        tx.entry_id = await ledger.post(
            session,
            community_id=tx.community_id,
            kind=tx.kind,
            key=f"transaction:{tx.id}",
            description=f"{tx.kind} {tx.reference or ''}".strip(),
            lines=_lines(tx),
            created_by=principal.user_id,
        )
    _audit(session, principal, tx, f"transaction.{status.lower()}")
    await events.transaction_changed(session, tx)
    return tx


def _audit(session: AsyncSession, principal: Principal, tx: Transaction, action: str) -> None:
    session.add(
        AuditRecord(
            community_id=tx.community_id,
            actor_user_id=principal.user_id,
            action=action,
            details={
                "transaction_id": tx.id,
                "kind": tx.kind,
                "amount_cents": tx.amount_cents,
                "user_id": tx.user_id,
                "status": tx.status,
            },
        )
    )


async def transactions(
    session: AsyncSession, principal: Principal, community_id: int
) -> list[Transaction]:
    """All of a community's for its admins; a member's own for a member; else 404."""
    query = select(Transaction).where(Transaction.community_id == community_id)
    try:
        await require_admin(session, principal, community_id)
    except ApiError as exc:
        if exc.status_code != 403:
            raise
        query = query.where(Transaction.user_id == principal.user_id)
    return list(await session.scalars(query.order_by(Transaction.id.desc()).limit(500)))


async def is_member(session: AsyncSession, principal: Principal, community_id: int) -> bool:
    memberships = await registry.reader(session).memberships_of_user(
        principal.user_id, on=italian_today()
    )
    return any(m.community_id == community_id for m in memberships)


async def payable(session: AsyncSession, user_id: int) -> tuple[Decimal, Decimal]:
    """(still owed to the member, paid to the member) over every community, in euro."""
    owed = paid = 0
    for community_id in {
        m.community_id for m in await registry.reader(session).memberships_of_user(user_id)
    }:
        for kind, account_user, balance in await repository.balances(session, community_id):
            if kind == ledger.MEMBER_PAYABLE and account_user == user_id:
                owed += -balance
    rows = await session.scalars(
        select(Transaction.amount_cents).where(
            Transaction.user_id == user_id,
            Transaction.kind == "BENEFIT_DISTRIBUTION",
            Transaction.status == "PROCESSED",
        )
    )
    # Paid by SEPA transfer too: the payouts the bank reported executed.
    paid = sum(rows) + await repository.paid_by_payouts(session, user_id)
    return Decimal(owed) / 100, Decimal(paid) / 100
