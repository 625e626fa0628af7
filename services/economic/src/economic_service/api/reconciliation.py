"""``GET /api/economic/reconciliations/?community_id&period``: the GSE's figures and
payments of a month against the platform's (community ADMINs)."""

from __future__ import annotations

from typing import Annotated, Any

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, ok
from cerc_shared.ids import QueryId
from fastapi import APIRouter, Query, Request

from economic_service.service import reconciliation

router = APIRouter(prefix="/api/economic", tags=["reconciliation"])


@router.get("/reconciliations/")
async def reconcile(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    community_id: QueryId,
    period: Annotated[
        str,
        Query(
            pattern=r"^\d{4}(-(0[1-9]|1[0-2]))?$",
            description="a month YYYY-MM, or a year YYYY for its true-up (conguaglio)",
            examples=["2025-06", "2024"],
        ),
    ],
) -> Envelope[dict[str, Any]]:
    tolerance = request.app.state.settings.reconciliation_tolerance_cents
    return ok(await reconciliation.reconcile(session, principal, community_id, period, tolerance))
