from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, ok
from cerc_shared.events.cer import MarketZone, PlantType
from fastapi import APIRouter, Query, Request, Response, status

from cer_service import service
from cer_service.api.deps import HotReads, Id, Page, PerPage
from cer_service.schemas import (
    PlantCreate,
    PlantDetail,
    PlantOut,
    PlantUpdate,
    Substation,
)

router = APIRouter(prefix="/api/plants", tags=["plants"])

PlantSort = Literal[
    "id", "-id", "name", "-name", "pod", "-pod", "nominal_power_kw", "-nominal_power_kw",
    "entry_into_service", "-entry_into_service", "created_at", "-created_at",
]  # fmt: skip


@router.get("/", response_model=Envelope[list[PlantOut]])
async def list_plants(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    reads: HotReads,
    page: Page = 1,
    per_page: PerPage = 20,
    cer_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    plant_type: PlantType | None = None,
    primary_substation: Substation | None = None,
    market_zone: MarketZone | None = None,
    is_active: bool | None = None,
    owner_user_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    sort: PlantSort = "id",
) -> Response:
    query = service.PlantQuery(
        page=page,
        per_page=per_page,
        plant_type=plant_type,
        primary_substation=primary_substation,
        market_zone=market_zone,
        is_active=is_active,
        owner_user_id=owner_user_id,
        sort=sort,
    )
    asked = service.query_items(request.query_params.multi_items())
    body = await service.plants_page_json(
        session, principal, reads, cer_id=cer_id, query=query, asked=asked
    )
    return Response(body, media_type="application/json")


@router.post("/", status_code=status.HTTP_201_CREATED)
async def create_plant(
    body: PlantCreate, session: DbSession, principal: CurrentPrincipal
) -> Envelope[PlantDetail]:
    """Register a plant in a community (``warnings`` names what it will not share yet)."""
    return ok(await service.create_plant(session, principal, body))


@router.get("/{plant_id}/")
async def get_plant(
    plant_id: Id, session: DbSession, principal: CurrentPrincipal
) -> Envelope[PlantDetail]:
    return ok(await service.get_plant(session, principal, plant_id))


@router.put("/{plant_id}/")
async def update_plant(
    plant_id: Id, body: PlantUpdate, session: DbSession, principal: CurrentPrincipal
) -> Envelope[PlantDetail]:
    return ok(await service.update_plant(session, principal, plant_id, body))


@router.delete("/{plant_id}/")
async def remove_plant(
    plant_id: Id,
    session: DbSession,
    principal: CurrentPrincipal,
    left_on: date | None = None,
) -> Envelope[PlantDetail]:
    """The plant leaves its community on ``left_on`` (default today); history is kept."""
    return ok(await service.remove_plant(session, principal, plant_id, left_on))
