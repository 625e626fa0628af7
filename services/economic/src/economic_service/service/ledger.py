"""Double-entry books of a community, in whole cents.

Every entry's postings sum to zero (debits positive, credits negative): the
service refuses an unbalanced one, and the database checks it again at
commit (a deferred constraint trigger, migration 0001). An entry carries an
idempotency key, so posting the same thing twice (an approval retried after
a crash) leaves one entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from economic_service import repository
from economic_service.models import Posting

GSE_RECEIVABLE = "GSE_RECEIVABLE"
BANK = "BANK"
COMMUNITY_FUND = "COMMUNITY_FUND"
FEES = "FEES"
MEMBER_PAYABLE = "MEMBER_PAYABLE"


@dataclass(frozen=True)
class Line:
    account: str
    cents: int
    user_id: int = 0


class Unbalanced(ValueError):
    pass


async def post(
    session: AsyncSession,
    *,
    community_id: int,
    kind: str,
    key: str,
    description: str,
    lines: Sequence[Line],
    created_by: int,
    settlement_run_id: int | None = None,
) -> int | None:
    """Post a balanced entry; the new entry's id, or None if ``key`` was posted before."""
    total = sum(line.cents for line in lines)
    if total != 0:
        raise Unbalanced(f"postings of {key} sum to {total} cents, not 0")
    entry_id = await repository.insert_entry(
        session,
        {
            "community_id": community_id,
            "kind": kind,
            "idempotency_key": key,
            "description": description,
            "settlement_run_id": settlement_run_id,
            "created_by": created_by,
        },
    )
    if entry_id is None:
        return None
    for line in lines:
        if line.cents == 0:
            continue
        account = await repository.account_id(session, community_id, line.account, line.user_id)
        session.add(Posting(entry_id=entry_id, account_id=account, amount_cents=line.cents))
    await session.flush()
    return entry_id


def distribution_lines(
    total_cents: int, community_cents: int, members: Sequence[tuple[int, int]]
) -> list[Line]:
    """What the GSE owes for the month, owed on to each member and the community fund."""
    return [
        Line(GSE_RECEIVABLE, total_cents),
        Line(COMMUNITY_FUND, -community_cents),
        *(Line(MEMBER_PAYABLE, -cents, user_id) for user_id, cents in members),
    ]
