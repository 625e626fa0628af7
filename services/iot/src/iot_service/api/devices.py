from __future__ import annotations

import uuid
from typing import Annotated

from cerc_shared.audit import AuditOut
from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, PageMeta, ok
from cerc_shared.events.iot import DeviceStatus
from cerc_shared.ids import OptionalQueryId
from fastapi import APIRouter, Path, Query, status

from iot_service import service
from iot_service.api.deps import Iot
from iot_service.mqtt.topics import DEVICE_ID_PATTERN
from iot_service.schemas import (
    CommandCreate,
    CommandOut,
    DeviceCreate,
    DeviceOut,
    DevicePatch,
    ProvisionedDevice,
)

router = APIRouter(prefix="/api/iot", tags=["devices"])

DeviceId = Annotated[str, Path(pattern=DEVICE_ID_PATTERN)]


@router.post("/devices/", status_code=status.HTTP_201_CREATED)
async def register_device(
    body: DeviceCreate, session: DbSession, ctx: Iot, principal: CurrentPrincipal
) -> Envelope[ProvisionedDevice]:
    """Register a device and issue its MQTT credentials (the password is shown only here)."""
    return ok(await service.register_device(session, ctx, principal, body))


@router.get("/devices/")
async def list_devices(
    session: DbSession,
    principal: CurrentPrincipal,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    plant_id: OptionalQueryId = None,
    status: DeviceStatus | None = None,
    include_revoked: bool = False,
) -> Envelope[list[DeviceOut]]:
    devices, total = await service.list_devices(
        session,
        principal,
        page=page,
        per_page=per_page,
        plant_id=plant_id,
        status=status,
        include_revoked=include_revoked,
    )
    return ok(
        [DeviceOut.model_validate(d) for d in devices],
        PageMeta(page=page, per_page=per_page, total=total),
    )


@router.get("/devices/{device_id}/")
async def get_device(
    device_id: DeviceId, session: DbSession, principal: CurrentPrincipal
) -> Envelope[DeviceOut]:
    return ok(DeviceOut.model_validate(await service.get_device(session, principal, device_id)))


@router.patch("/devices/{device_id}/")
async def update_device(
    device_id: DeviceId, body: DevicePatch, session: DbSession, principal: CurrentPrincipal
) -> Envelope[DeviceOut]:
    device = await service.update_device(session, principal, device_id, body)
    return ok(DeviceOut.model_validate(device))


@router.delete("/devices/{device_id}/")
async def revoke_device(
    device_id: DeviceId, session: DbSession, ctx: Iot, principal: CurrentPrincipal
) -> Envelope[DeviceOut]:
    """Revoke the device: its MQTT client is deleted (and disconnected); the record stays."""
    device = await service.revoke_device(session, ctx, principal, device_id)
    return ok(DeviceOut.model_validate(device))


@router.post("/devices/{device_id}/credentials/")
async def rotate_credentials(
    device_id: DeviceId, session: DbSession, ctx: Iot, principal: CurrentPrincipal
) -> Envelope[ProvisionedDevice]:
    """Issue a new MQTT password (shown only here); the old one stops working."""
    return ok(await service.rotate_credentials(session, ctx, principal, device_id))


@router.post("/devices/{device_id}/commands/", status_code=status.HTTP_202_ACCEPTED)
async def send_command(
    device_id: DeviceId,
    body: CommandCreate,
    session: DbSession,
    ctx: Iot,
    principal: CurrentPrincipal,
) -> Envelope[CommandOut]:
    """Publish a command to the device's ``commands`` topic; its ack arrives on ``acks``."""
    return ok(await service.send_command(session, ctx, principal, device_id, body))


@router.get("/devices/{device_id}/commands/")
async def list_commands(
    device_id: DeviceId, session: DbSession, ctx: Iot, principal: CurrentPrincipal
) -> Envelope[list[CommandOut]]:
    return ok(await service.list_commands(session, ctx, principal, device_id))


@router.get("/devices/{device_id}/commands/{command_id}/")
async def get_command(
    device_id: DeviceId,
    command_id: uuid.UUID,
    session: DbSession,
    ctx: Iot,
    principal: CurrentPrincipal,
) -> Envelope[CommandOut]:
    return ok(await service.get_command(session, ctx, principal, device_id, command_id))


@router.get("/audit/")
async def device_audit(
    session: DbSession,
    principal: CurrentPrincipal,
    community_id: OptionalQueryId = None,
    device_id: Annotated[str | None, Query(pattern=DEVICE_ID_PATTERN)] = None,
    action: Annotated[str | None, Query(max_length=60)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Envelope[list[AuditOut]]:
    """A community's device trail (provisioning, rotations, revocations,
    commands), newest first: its administrators and the platform's."""
    entries, total = await service.device_audit(
        session, principal, community_id=community_id, page=page, per_page=per_page,
        device_id=device_id, action=action,
    )  # fmt: skip
    return ok(
        [AuditOut.model_validate(e) for e in entries],
        PageMeta(page=page, per_page=per_page, total=total),
    )
