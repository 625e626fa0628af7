"""The economic figures the reporting service renders, for a client token with
``economic:read`` (never routed by the gateway: its prefix is not /api/).

``GET /internal/economic/reports/settlements/?community_id&period`` gives, per
month of ``period`` (YYYY-MM or YYYY), the run a report shows (FINAL when
approved, else the newest COMPLETED) with its totals, its engine result and
every member's part, in cents and Wh; ``.../transactions/?community_id&year``
the community's transactions of a year. A partner bound to another community
gets 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from cerc_shared.auth import ClientPrincipal, Scope, require_client_scope
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, ok
from cerc_shared.ids import QueryId
from fastapi import APIRouter, Query
from pydantic import BaseModel

from economic_service import repository

router = APIRouter(prefix="/internal/economic/reports", tags=["internal"])

EconomicReader = Annotated[ClientPrincipal, require_client_scope(Scope.ECONOMIC_READ)]


class MemberPartOut(BaseModel):
    user_id: int
    producer_shared_wh: int
    contribution_wh: int
    as_producer_cents: int
    as_consumer_cents: int
    cents: int


class ReportedRunOut(BaseModel):
    run_id: int
    period: str
    kind: str
    total_cents: int
    community_cents: int
    coverage: dict[str, Any] | None
    parameters: dict[str, Any] | None
    result: dict[str, Any] | None
    members: list[MemberPartOut]
    finished_at: datetime | None


class TransactionPartOut(BaseModel):
    id: int
    kind: str
    status: str
    amount_cents: int
    user_id: int | None
    reference: str | None
    description: str
    created_at: datetime
    processed_at: datetime | None


@router.get("/settlements/")
async def reported_settlements(
    session: DbSession,
    client: EconomicReader,
    community_id: QueryId,
    period: Annotated[str, Query(pattern=r"^\d{4}(-(0[1-9]|1[0-2]))?$", examples=["2025-03"])],
) -> Envelope[list[ReportedRunOut]]:
    client.check_community(community_id)
    runs = await repository.reported_runs(session, community_id, period)
    parts = await repository.member_results_of_runs(session, [r.id for r in runs])
    return ok(
        [
            ReportedRunOut(
                run_id=run.id,
                period=run.period,
                kind=run.kind,
                total_cents=run.total_cents or 0,
                community_cents=run.community_cents or 0,
                coverage=run.coverage,
                parameters=run.parameters,
                result=run.result,
                members=[
                    MemberPartOut(
                        user_id=m.user_id,
                        producer_shared_wh=m.producer_shared_wh,
                        contribution_wh=m.contribution_wh,
                        as_producer_cents=m.as_producer_cents,
                        as_consumer_cents=m.as_consumer_cents,
                        cents=m.cents,
                    )
                    for m in parts[run.id]
                ],
                finished_at=run.finished_at,
            )
            for run in runs
        ]
    )


@router.get("/transactions/")
async def reported_transactions(
    session: DbSession,
    client: EconomicReader,
    community_id: QueryId,
    year: Annotated[int, Query(ge=2000, le=2999)],
) -> Envelope[list[TransactionPartOut]]:
    client.check_community(community_id)
    return ok(
        [
            TransactionPartOut(
                id=t.id,
                kind=t.kind,
                status=t.status,
                amount_cents=t.amount_cents,
                user_id=t.user_id,
                reference=t.reference,
                description=t.description,
                created_at=t.created_at,
                processed_at=t.processed_at,
            )
            for t in await repository.transactions_of_year(session, community_id, year)
        ]
    )
