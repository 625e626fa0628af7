"""``/api/economic/parameters/``: the dated rule parameters (the engine's built-in rows and the
platform's), read by anyone signed in, extended or corrected by a platform admin, audited."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from cerc_shared.auth import CurrentPrincipal, PlatformAdmin
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, ok
from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from economic_service import repository
from economic_service.service import parameters

router = APIRouter(prefix="/api/economic/parameters", tags=["parameters"])


class ParameterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(examples=[parameters.TRASE], description=" or ".join(parameters.NAMES))
    key: str = Field(default="", max_length=20, description='"" for TRASe; the power class (kW)')
    valid_from: date = Field(description="TRASe: 1 January of its year; a cost cap: the first "
                             "entry into service it applies to")  # fmt: skip
    value: Decimal = Field(max_digits=14, decimal_places=6)
    source: str = Field(min_length=1, max_length=200, description="where it was published")


class ParameterOut(BaseModel):
    name: str
    key: str
    valid_from: date
    value: Decimal
    source: str
    origin: str
    set_by: int | None


class ParameterChangeOut(BaseModel):
    id: int
    actor_user_id: int
    at: datetime
    details: dict[str, Any]


def _out(row: parameters.ParameterRow) -> ParameterOut:
    return ParameterOut(
        name=row.name,
        key=row.key,
        valid_from=row.valid_from,
        value=row.value,
        source=row.source,
        origin=row.origin,
        set_by=row.set_by,
    )


@router.get("/")
async def list_parameters(session: DbSession, _: CurrentPrincipal) -> Envelope[list[ParameterOut]]:
    return ok([_out(r) for r in await parameters.table(session)])


@router.post("/", status_code=status.HTTP_201_CREATED)
async def set_parameter(
    body: ParameterIn, session: DbSession, principal: PlatformAdmin, response: Response
) -> Envelope[ParameterOut]:
    row, created = await parameters.set_parameter(
        session,
        principal,
        name=body.name,
        key=body.key,
        valid_from=body.valid_from,
        value=body.value,
        source=body.source,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return ok(
        _out(
            parameters.ParameterRow(
                row.name, row.key, row.valid_from, row.value, row.source, parameters.PLATFORM,
                row.set_by,
            )
        )
    )  # fmt: skip


@router.get("/changes/")
async def parameter_changes(
    session: DbSession,
    _: PlatformAdmin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Envelope[list[ParameterChangeOut]]:
    """Who changed which parameter when, old -> new, newest first."""
    rows = await repository.parameter_audit(session, limit=limit)
    return ok(
        [
            ParameterChangeOut(id=r.id, actor_user_id=r.actor_user_id, at=r.at, details=r.details)
            for r in rows
        ]
    )
