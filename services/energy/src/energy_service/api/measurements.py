"""``/api/energy/measurements/`` and ``/api/plants/{id}/measurements/``.

The gateway sends ``/api/plants/<id>/measurements/`` here (the rest of
``/api/plants/`` goes to the CER service, which owns plants)."""

from __future__ import annotations

from typing import Annotated

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, PageMeta, ok
from cerc_shared.ids import MAX_BIGINT, PathId
from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status

from energy_service import service
from energy_service.api.deps import Filters, Page, PerPage, Scopes, Store
from energy_service.schemas import (
    EnergyBucketOut,
    PlantReadingsIn,
    RawReadingOut,
    ReadingsAccepted,
    ReadingsIn,
)

energy_router = APIRouter(prefix="/api/energy", tags=["measurements"])
plants_router = APIRouter(prefix="/api/plants", tags=["measurements"])

Measurements = Envelope[list[RawReadingOut] | list[EnergyBucketOut]]


def _answer(items: list[RawReadingOut] | list[EnergyBucketOut], meta: PageMeta) -> Response:
    # The items are models built just now: FastAPI's own response handling would validate
    # every one of them again before writing it, a tenth of a dashboard read's CPU
    # (bench/bench_gateway.py). The document still declares Measurements (response_model).
    body = Measurements(data=items, meta=meta).model_dump_json().encode()
    return Response(body, media_type="application/json")


def _poke_relay(request: Request, background: BackgroundTasks) -> None:
    # After the response, i.e. after the commit: the relay then finds the event.
    background.add_task(request.app.state.outbox_relay.poke)


@energy_router.get("/measurements/", response_model=Measurements)
async def list_measurements(
    session: DbSession,
    principal: CurrentPrincipal,
    store: Store,
    scopes: Scopes,
    filters: Filters,
    plant_id: Annotated[
        int | None, Query(ge=1, le=MAX_BIGINT, description="default: every plant you may see")
    ] = None,
    page: Page = 1,
    per_page: PerPage = 100,
) -> Response:
    scope = await service.reading_scope(session, principal, plant_id, scopes)
    items, total = await service.read_measurements(
        store, scope, filters, page=page, per_page=per_page
    )
    return _answer(items, PageMeta(page=page, per_page=per_page, total=total))


@plants_router.get("/{plant_id}/measurements/", response_model=Measurements)
async def plant_measurements(
    plant_id: PathId,
    session: DbSession,
    principal: CurrentPrincipal,
    store: Store,
    scopes: Scopes,
    filters: Filters,
    page: Page = 1,
    per_page: PerPage = 100,
) -> Response:
    scope = await service.reading_scope(session, principal, plant_id, scopes)
    items, total = await service.read_measurements(
        store, scope, filters, page=page, per_page=per_page
    )
    return _answer(items, PageMeta(page=page, per_page=per_page, total=total))


@energy_router.post("/measurements/", status_code=status.HTTP_202_ACCEPTED)
async def add_measurements(
    body: PlantReadingsIn,
    session: DbSession,
    store: Store,
    principal: CurrentPrincipal,
    request: Request,
    background: BackgroundTasks,
) -> Envelope[ReadingsAccepted]:
    accepted = await service.accept_readings(session, store, principal, body.plant_id, body)
    _poke_relay(request, background)
    return ok(accepted)


@plants_router.post("/{plant_id}/measurements/", status_code=status.HTTP_202_ACCEPTED)
async def add_plant_measurements(
    plant_id: PathId,
    body: ReadingsIn,
    session: DbSession,
    store: Store,
    principal: CurrentPrincipal,
    request: Request,
    background: BackgroundTasks,
) -> Envelope[ReadingsAccepted]:
    accepted = await service.accept_readings(session, store, principal, plant_id, body)
    _poke_relay(request, background)
    return ok(accepted)
