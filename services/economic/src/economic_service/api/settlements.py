"""``/api/economic/settlements/``: request a run (202, a job), follow it, approve it."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, ok
from cerc_shared.ids import PathId, QueryId
from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status

from economic_service import repository
from economic_service.models import SettlementRun
from economic_service.schemas import MemberResultOut, RunOut, SettlementIn, euros
from economic_service.service import settlements
from economic_service.service.access import require_admin

router = APIRouter(prefix="/api/economic", tags=["settlements"])


async def run_out(session: DbSession, run: SettlementRun, *, hours: bool = False) -> RunOut:
    members = await repository.member_results(session, run.id)
    return RunOut(
        id=run.id,
        community_id=run.community_id,
        period=run.period,
        kind=run.kind,
        status=run.status,
        progress=run.progress,
        requested_by=run.requested_by,
        previous_run_id=run.previous_run_id,
        approves_run_id=run.approves_run_id,
        inputs_fingerprint=run.inputs_fingerprint,
        coverage=run.coverage,
        parameters=run.parameters,
        engine_version=run.engine_version,
        total_eur=euros(run.total_cents),
        community_eur=euros(run.community_cents),
        result=run.result,
        members=[
            MemberResultOut(
                user_id=m.user_id,
                producer_shared_kwh=Decimal(m.producer_shared_wh) / 1000,
                contribution_kwh=Decimal(m.contribution_wh) / 1000,
                as_producer_eur=Decimal(m.as_producer_cents) / 100,
                as_consumer_eur=Decimal(m.as_consumer_cents) / 100,
                eur=Decimal(m.cents) / 100,
            )
            for m in members
        ],
        difference=run.difference,
        errors=run.errors,
        created_at=run.created_at,
        finished_at=run.finished_at,
    )


def _poke(request: Request, background: BackgroundTasks) -> None:
    # After the response, i.e. after the commit: the worker then finds the run.
    background.add_task(request.app.state.settlement_jobs.poke)


@router.post("/settlements/", status_code=status.HTTP_202_ACCEPTED)
async def request_settlement(
    body: SettlementIn,
    session: DbSession,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    background: BackgroundTasks,
) -> Envelope[RunOut]:
    run = await settlements.request_run(
        session, principal, body.community_id, body.period, body.kind
    )
    _poke(request, background)
    response.headers["Location"] = f"/api/economic/settlements/{run.id}/"
    await session.refresh(run)
    return ok(await run_out(session, run))


@router.get("/settlements/")
async def list_settlements(
    session: DbSession,
    principal: CurrentPrincipal,
    community_id: QueryId,
    period: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = None,
) -> Envelope[list[RunOut]]:
    await require_admin(session, principal, community_id)
    runs = await repository.runs_of_community(session, community_id, period)
    return ok([(await run_out(session, r)).model_copy(update={"result": None}) for r in runs])


@router.get("/settlements/{run_id}/")
async def get_settlement(
    run_id: PathId, session: DbSession, principal: CurrentPrincipal
) -> Envelope[RunOut]:
    run = await settlements.visible_run(session, principal, run_id)
    return ok(await run_out(session, run))


@router.post("/settlements/{run_id}/approve/")
async def approve_settlement(
    run_id: PathId, session: DbSession, principal: CurrentPrincipal
) -> Envelope[RunOut]:
    final = await settlements.approve(session, principal, run_id)
    return ok(await run_out(session, final))
