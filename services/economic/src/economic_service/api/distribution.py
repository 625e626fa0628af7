"""``/api/economic/fees/`` (the community's dated management fee) and
``/api/economic/distribute/`` (post an approved run to the books, once)."""

from __future__ import annotations

from decimal import Decimal

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, ok
from cerc_shared.ids import QueryId
from fastapi import APIRouter, status

from economic_service.models import ManagementFee
from economic_service.schemas import DistributedOut, DistributeIn, FeeIn, FeeOut
from economic_service.service import distribution

router = APIRouter(prefix="/api/economic", tags=["books"])


def _fee(f: ManagementFee) -> FeeOut:
    return FeeOut(
        community_id=f.community_id,
        valid_from=f.valid_from,
        kind=f.kind,
        percent=f.percent,
        amount=None if f.fixed_cents is None else Decimal(f.fixed_cents) / 100,
        created_by=f.created_by,
        created_at=f.created_at,
    )


@router.post("/fees/", status_code=status.HTTP_201_CREATED)
async def set_fee(body: FeeIn, session: DbSession, principal: CurrentPrincipal) -> Envelope[FeeOut]:
    """A management fee from a date on (community admins; audited)."""
    fee = await distribution.set_fee(session, principal, body)
    await session.refresh(fee)
    return ok(_fee(fee))


@router.get("/fees/")
async def list_fees(
    session: DbSession, principal: CurrentPrincipal, community_id: QueryId
) -> Envelope[list[FeeOut]]:
    return ok([_fee(f) for f in await distribution.fees(session, principal, community_id)])


@router.post("/distribute/")
async def distribute(
    body: DistributeIn, session: DbSession, principal: CurrentPrincipal
) -> Envelope[DistributedOut]:
    """Post an approved run's distribution (a FINAL run, or an ADJUSTMENT's difference) if
    the books do not hold it yet; posted_now false when they did."""
    done = await distribution.distribute(session, principal, body)
    return ok(
        DistributedOut(
            run_id=done.run.id,
            community_id=done.run.community_id,
            period=done.run.period,
            kind=done.run.kind,
            posted_now=done.posted_now,
            difference_eur=Decimal(done.difference_cents) / 100,
        )
    )
