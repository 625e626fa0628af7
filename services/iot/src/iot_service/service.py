"""Domain logic of the IoT service: the device registry, MQTT credentials,
commands, device status, and the read models of plants and memberships.

Authorisation: the platform ADMIN sees everything; an ADMIN of the plant's
community manages its devices; the plant's owner reads them; anyone else is
told the device (or plant) does not exist.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal, Protocol

from cerc_shared.audit import AuditRecord
from cerc_shared.auth import Principal
from cerc_shared.clock import ITALY, italian_today
from cerc_shared.envelope import ApiError, NotFound
from cerc_shared.events import EventEnvelope
from cerc_shared.events.cer import PlantLeft
from cerc_shared.events.iot import DeviceRegistered, DeviceRevoked, DeviceStatusChanged
from cerc_shared.outbox import record
from cerc_shared.readmodels import Access, PlantFacts
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from iot_service.models import Command, CommandAck, Device, audit, outbox, registry
from iot_service.mqtt.dynsec import DynSec, DynSecError, NotOurClient
from iot_service.mqtt.topics import commands_topic, device_root, device_username
from iot_service.repository import CommandRepository, DeviceRepository
from iot_service.schemas import (
    CommandCreate,
    CommandOut,
    DeviceCreate,
    DeviceOut,
    DevicePatch,
    MqttCredentials,
    MqttTopics,
    ProvisionedDevice,
)
from iot_service.settings import IotSettings

PRODUCER = "iot"
log = logging.getLogger(__name__)

# Publishes one MQTT message (topic, payload) at QoS 1; raises on failure.
Publish = Callable[[str, bytes], Awaitable[None]]


@dataclass(frozen=True)
class IotContext:
    settings: IotSettings
    dynsec: DynSec
    publish: Publish

    @property
    def public_host(self) -> str:
        return self.settings.mqtt_public_host or self.settings.mqtt_host

    @property
    def public_port(self) -> int:
        return self.settings.mqtt_public_port or self.settings.mqtt_port

    @cached_property
    def public_ca(self) -> str | None:
        """Read once, at the first provisioning (a missing file fails it loudly)."""
        ca_file = self.settings.mqtt_public_ca_file
        return Path(ca_file).read_text() if ca_file else None


async def access_to(
    session: AsyncSession, principal: Principal, plant: PlantFacts
) -> Access | None:
    """The platform's or the plant's community's administrator manages; its owner reads."""
    return await registry.reader(session).access(principal, plant, italian_today())


async def device_access(
    session: AsyncSession, principal: Principal, device: Device
) -> Access | None:
    """Access follows the plant's stays (issue 12, item 1): a device belongs to
    the stay it was registered in. Its owner then and that community's
    administrators (today) read it; they manage it only while that stay is
    current, so whoever registers the POD again never reaches the previous
    tenant's meter, nor that tenant once the plant has left."""
    if principal.is_platform_admin:
        return "manage"
    reader = registry.reader(session)
    today = italian_today()
    stay = await reader.period_of_plant(
        device.plant_id, device.plant_stay_from or device.created_at.astimezone(ITALY).date()
    )
    if stay is None:
        return None
    if await reader.is_community_admin(principal.user_id, stay.community_id, today):
        return "manage" if stay.active_on(today) else "read"
    return "read" if stay.owner_user_id == principal.user_id else None


async def _stay_community(session: AsyncSession, device: Device) -> int | None:
    """The community of the stay the device was registered in (its audit entries' community)."""
    stay = await registry.reader(session).period_of_plant(
        device.plant_id, device.plant_stay_from or device.created_at.astimezone(ITALY).date()
    )
    return stay.community_id if stay else None


async def _audit(
    session: AsyncSession,
    action: str,
    device: Device,
    actor: Principal | None,
    *,
    community_id: int | None = None,
    **facts: object,
) -> None:
    """Provisioning, rotation, revocation and commands in the trail (cerc_shared.audit)."""
    await audit.record(
        session,
        action,
        entity_type="device",
        entity_id=device.id,
        actor_user_id=actor.user_id if actor else None,
        community_id=community_id or await _stay_community(session, device),
        after={"plant_id": device.plant_id, "mqtt_username": device.mqtt_username, **facts},
    )


async def _device_for(
    session: AsyncSession, principal: Principal, device_id: str, need: Access, *, lock: bool = False
) -> Device:
    devices = DeviceRepository(session)
    device = await (devices.get_for_update(device_id) if lock else devices.get(device_id))
    if device is None:
        raise NotFound("device")
    granted = await device_access(session, principal, device)
    if granted is None:
        raise NotFound("device")
    if need == "manage" and granted != "manage":
        raise ApiError(403, "forbidden", "only an administrator of the community manages devices")
    return device


def _credentials(ctx: IotContext, device: Device, password: str) -> MqttCredentials:
    root = device_root(device.plant_id, device.id)
    return MqttCredentials(
        host=ctx.public_host,
        port=ctx.public_port,
        tls=ctx.settings.mqtt_public_tls,
        ca_certificate=ctx.public_ca,
        username=device.mqtt_username,
        password=password,
        topics=MqttTopics(
            measurements=f"{root}/measurements",
            status=f"{root}/status",
            acks=f"{root}/acks",
            commands=commands_topic(device.plant_id, device.id),
        ),
    )


def _mqtt_unavailable(exc: DynSecError) -> ApiError:
    return ApiError(503, "mqtt_unavailable", f"the MQTT broker did not take the change: {exc}")


def _not_our_client(exc: NotOurClient) -> ApiError:
    return ApiError(
        409,
        "mqtt_username_taken",
        f"{exc}: the iot service did not create it, so it neither replaces nor deletes it",
        field="device_id",
    )


async def register_device(
    session: AsyncSession, ctx: IotContext, principal: Principal, body: DeviceCreate
) -> ProvisionedDevice:
    plant = await registry.reader(session).plant(body.plant_id)
    granted = await access_to(session, principal, plant) if plant else None
    if plant is None or granted is None:
        raise ApiError(404, "plant_not_found", "plant not found", field="plant_id")
    if granted != "manage":
        raise ApiError(403, "forbidden", "only an administrator of the community adds devices")
    if not plant.active_on(italian_today()):
        raise ApiError(
            409, "plant_inactive", "the plant is not in a community today", field="plant_id"
        )
    stay = await registry.reader(session).period_of_plant(plant.plant_id, italian_today())
    devices = DeviceRepository(session)
    if await devices.exists(body.device_id):
        raise ApiError(409, "device_exists", "a device with this id exists", field="device_id")
    device = Device(
        id=body.device_id,
        plant_id=plant.plant_id,
        model=body.model,
        firmware=body.firmware,
        interval_s=body.interval_s,
        measuring_point=body.measuring_point,
        mqtt_username=device_username(body.device_id),
        status="OFFLINE",
        created_by=principal.user_id,
        plant_stay_from=stay.valid_from if stay else None,
    )
    try:
        async with session.begin_nested():
            await devices.add(device)
    except IntegrityError as exc:
        raise ApiError(
            409, "device_exists", "a device with this id exists", field="device_id"
        ) from exc
    await record(
        session,
        outbox,
        DeviceRegistered(
            device_id=device.id,
            plant_id=device.plant_id,
            model=device.model,
            firmware=device.firmware,
            interval_s=device.interval_s,
        ),
        producer=PRODUCER,
    )
    # The broker last: a refusal above leaves it untouched, and its failure
    # rolls the registration back. A commit failing after it leaves a client
    # whose password nobody knows; a retry replaces it.
    password = secrets.token_urlsafe(24)
    try:
        await ctx.dynsec.provision_device(
            username=device.mqtt_username,
            password=password,
            plant_id=plant.plant_id,
            device_id=device.id,
        )
    except NotOurClient as exc:
        raise _not_our_client(exc) from exc
    except DynSecError as exc:
        raise _mqtt_unavailable(exc) from exc
    await _audit(
        session, "device.provisioned", device, principal,
        community_id=stay.community_id if stay else plant.community_id, model=device.model,
    )  # fmt: skip
    return ProvisionedDevice(
        device=DeviceOut.model_validate(device), credentials=_credentials(ctx, device, password)
    )


async def rotate_credentials(
    session: AsyncSession, ctx: IotContext, principal: Principal, device_id: str
) -> ProvisionedDevice:
    device = await _device_for(session, principal, device_id, "manage", lock=True)
    if device.revoked:
        raise ApiError(409, "device_revoked", "the device is revoked")
    password = secrets.token_urlsafe(24)
    # A device provisioned before the `dev-` prefix moves to it now: its old
    # client (made by this service, or it is refused) goes with the rotation.
    username = device_username(device.id)
    try:
        # Recreated rather than re-passworded: the ACLs are restored too, and
        # the old connection is dropped.
        await ctx.dynsec.provision_device(
            username=username,
            password=password,
            plant_id=device.plant_id,
            device_id=device.id,
            replaces=device.mqtt_username,
        )
    except NotOurClient as exc:
        raise _not_our_client(exc) from exc
    except DynSecError as exc:
        raise _mqtt_unavailable(exc) from exc
    previous, device.mqtt_username = device.mqtt_username, username
    await session.flush()
    await _audit(
        session, "device.credentials_rotated", device, principal, previous_username=previous
    )
    return ProvisionedDevice(
        device=DeviceOut.model_validate(device), credentials=_credentials(ctx, device, password)
    )


async def revoke_device(
    session: AsyncSession, ctx: IotContext, principal: Principal, device_id: str
) -> Device:
    device = await _device_for(session, principal, device_id, "manage", lock=True)
    if device.revoked:
        return device
    # The broker first: once it answers, the device can no longer connect.
    try:
        await ctx.dynsec.remove_device(username=device.mqtt_username, device_id=device.id)
    except NotOurClient as exc:
        raise _not_our_client(exc) from exc
    except DynSecError as exc:
        raise _mqtt_unavailable(exc) from exc
    device.revoked_at = datetime.now(UTC)
    device.status, device.status_detail = "REVOKED", "revoked by request"
    await session.flush()
    await record(
        session,
        outbox,
        DeviceRevoked(device_id=device.id, plant_id=device.plant_id),
        producer=PRODUCER,
    )
    await _audit(session, "device.revoked", device, principal, reason="request")
    return device


async def revoke_devices_of_ended_stays(
    session: AsyncSession, dynsec: DynSec, today: date, *, plant_id: int | None = None
) -> list[Device]:
    """Devices whose plant stay has ended by ``today`` (the plant left its
    community, or its owner left it) are revoked, in the broker and here, each
    with a ``device.revoked`` (reason ``plant_left``). Only the stay a device
    was registered in counts: the next tenant's meters of the same plant stay.
    A broker that does not answer leaves the client there, but the device is
    REVOKED and the bridge refuses its messages; the failure is logged for an
    operator. Idempotent: a revoked device is never picked again."""
    devices = await DeviceRepository(session).live_of_ended_stays(today, plant_id)
    for device in devices:
        try:
            await dynsec.remove_device(username=device.mqtt_username, device_id=device.id)
        except DynSecError as exc:  # NotOurClient included: never delete a stranger's client
            log.error("device %s revoked here but not in the broker: %s", device.id, exc)
        device.revoked_at = datetime.now(UTC)
        device.status, device.status_detail = "REVOKED", "the plant left its community"
        await record(
            session,
            outbox,
            DeviceRevoked(device_id=device.id, plant_id=device.plant_id, reason="plant_left"),
            producer=PRODUCER,
        )
        await _audit(session, "device.revoked", device, None, reason="plant_left")
    await session.flush()
    return devices


async def get_device(session: AsyncSession, principal: Principal, device_id: str) -> Device:
    return await _device_for(session, principal, device_id, "read")


async def update_device(
    session: AsyncSession, principal: Principal, device_id: str, body: DevicePatch
) -> Device:
    device = await _device_for(session, principal, device_id, "manage", lock=True)
    if device.revoked:
        raise ApiError(409, "device_revoked", "the device is revoked")
    for name, value in body.model_dump(exclude_unset=True).items():
        if name in ("model", "interval_s") and value is None:
            raise ApiError(422, "validation_error", f"{name} cannot be null", field=name)
        setattr(device, name, value)
    await session.flush()
    return device


async def list_devices(
    session: AsyncSession,
    principal: Principal,
    *,
    page: int,
    per_page: int,
    plant_id: int | None,
    status: str | None,
    include_revoked: bool,
) -> tuple[list[Device], int]:
    return await DeviceRepository(session).page(
        visible_to=None if principal.is_platform_admin else principal.user_id,
        day=italian_today(),
        page=page,
        per_page=per_page,
        plant_id=plant_id,
        status=status,
        include_revoked=include_revoked,
    )


async def device_audit(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int | None,
    page: int,
    per_page: int,
    device_id: str | None,
    action: str | None,
) -> tuple[Sequence[AuditRecord], int]:
    """The device trail of a community, for its administrators (today) and the
    platform's; the platform's may leave out the community. Anyone else: 404."""
    if not principal.is_platform_admin:
        if community_id is None:
            raise ApiError(
                422, "validation_error", "community_id is required", field="community_id"
            )
        if not await registry.reader(session).is_community_admin(
            principal.user_id, community_id, italian_today()
        ):
            raise NotFound("community")
    return await audit.page(
        session,
        page=page,
        per_page=per_page,
        community_id=community_id,
        entity_type="device",
        entity_id=device_id,
        action=action,
    )


# ------------------------------------------------------------------ commands


def _command_out(command: Command, ack: CommandAck | None, timeout_s: int) -> CommandOut:
    if ack is not None:
        status: Literal["SENT", "ACKED", "FAILED", "EXPIRED"] = (
            "ACKED" if ack.result == "OK" else "FAILED"
        )
    elif datetime.now(UTC) - command.sent_at > timedelta(seconds=timeout_s):
        status = "EXPIRED"
    else:
        status = "SENT"
    return CommandOut(
        command_id=command.id,
        device_id=command.device_id,
        command=command.command,
        params=command.params,
        status=status,
        sent_at=command.sent_at,
        acked_at=ack.received_at if ack else None,
        result_detail=ack.detail if ack else None,
    )


async def send_command(
    session: AsyncSession,
    ctx: IotContext,
    principal: Principal,
    device_id: str,
    body: CommandCreate,
) -> CommandOut:
    device = await _device_for(session, principal, device_id, "manage")
    if device.revoked:
        raise ApiError(409, "device_revoked", "the device is revoked")
    command = await CommandRepository(session).add(
        Command(
            id=uuid.uuid4(),
            device_id=device.id,
            command=body.command,
            params=body.params,
            created_by=principal.user_id,
            sent_at=datetime.now(UTC),
        )
    )
    payload = {
        "command_id": str(command.id),
        "command": command.command,
        "params": command.params,
        "issued_at": command.sent_at.isoformat(),
        "ack_topic": f"{device_root(device.plant_id, device.id)}/acks",
    }
    try:
        await ctx.publish(commands_topic(device.plant_id, device.id), json.dumps(payload).encode())
    except Exception as exc:
        raise ApiError(503, "mqtt_unavailable", f"the command was not sent: {exc}") from exc
    await _audit(
        session, "device.command_sent", device, principal,
        command_id=str(command.id), command=command.command, params=command.params,
    )  # fmt: skip
    return _command_out(command, None, ctx.settings.command_ack_timeout_s)


async def get_command(
    session: AsyncSession,
    ctx: IotContext,
    principal: Principal,
    device_id: str,
    command_id: uuid.UUID,
) -> CommandOut:
    await _device_for(session, principal, device_id, "read")
    commands = CommandRepository(session)
    command = await commands.get(device_id, command_id)
    if command is None:
        raise NotFound("command")
    acks = await commands.acks([command.id])
    return _command_out(command, acks.get(command.id), ctx.settings.command_ack_timeout_s)


async def list_commands(
    session: AsyncSession, ctx: IotContext, principal: Principal, device_id: str
) -> list[CommandOut]:
    await _device_for(session, principal, device_id, "read")
    commands = CommandRepository(session)
    rows = await commands.for_device(device_id, limit=100)
    acks = await commands.acks(c.id for c in rows)
    return [_command_out(c, acks.get(c.id), ctx.settings.command_ack_timeout_s) for c in rows]


# -------------------------------------------------------------------- status


async def mark_silent_devices_offline(
    session: AsyncSession, *, after_intervals: int, now: datetime | None = None, limit: int = 500
) -> list[Device]:
    """Devices silent for ``after_intervals`` of their intervals become OFFLINE,
    each with a ``device.status_changed`` event."""
    moment = now or datetime.now(UTC)
    silent = await DeviceRepository(session).lock_silent(moment, after_intervals, limit)
    for device in silent:
        previous = device.status
        device.status = "OFFLINE"
        device.status_detail = f"silent for {after_intervals} intervals of {device.interval_s} s"
        await record(session, outbox, status_event(device, previous), producer=PRODUCER)
    await session.flush()
    return silent


class DeviceState(Protocol):
    """What a status event says of a device: the ORM row, or the bridge's SeenDevice."""

    @property
    def id(self) -> str: ...
    @property
    def plant_id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def last_seen(self) -> datetime | None: ...
    @property
    def battery_level(self) -> float | None: ...
    @property
    def signal_strength(self) -> float | None: ...


def status_event(device: DeviceState, previous: str | None) -> DeviceStatusChanged:
    return DeviceStatusChanged(
        device_id=device.id,
        plant_id=device.plant_id,
        status=device.status,
        previous=previous,
        last_seen=device.last_seen,
        battery_level=device.battery_level,
        signal_strength=device.signal_strength,
    )


# ---------------------------------------------------------------- read model


def cer_event_handler(dynsec: DynSec) -> Callable[[AsyncSession, EventEnvelope], Awaitable[None]]:
    """Keeps the plants and memberships this service authorises with, and revokes
    a plant's devices once its stay has ended (a member leaving ends their
    plants' stays, so that arrives here as ``plant.left`` too)."""

    async def handle(session: AsyncSession, envelope: EventEnvelope) -> None:
        await registry.apply(session, envelope)
        event = envelope.data
        if not isinstance(event, PlantLeft):
            return
        # A leave dated in the future is the StayEndRevoker's, on its day.
        if event.valid_to is not None and event.valid_to <= italian_today():
            await revoke_devices_of_ended_stays(
                session, dynsec, italian_today(), plant_id=event.plant_id
            )

    return handle


# The read model alone, without revocations (the tests feed it this way).
apply_cer_event = registry.apply
