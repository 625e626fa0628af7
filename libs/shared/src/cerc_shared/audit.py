"""The audit trail of security-relevant actions, one way for every service.

A service keeps its trail in its own schema, like the outbox::

    audit_log = define_audit_log(Base.metadata)           # models.py
    trail = AuditTrail(audit_log)
    await trail.record(session, "device.provisioned", entity_type="device",
                       entity_id=device.id, actor_user_id=principal.user_id,
                       community_id=stay.community_id, after={...})
    entries, total = await trail.page(session, page=1, per_page=50, community_id=7)

Each entry is written in the caller's transaction (an action refused and
rolled back leaves none, unless the error keeps its changes, as a failed
login does) and carries the correlation id of the request: the gateway's
``x-request-id``, which Envoy always generates itself (a client's header is
replaced), so nobody can forge or collide the id an entry is found by. The
table is append-only: the migration that creates it adds a trigger refusing
UPDATE, DELETE and TRUNCATE (as the user and cer services' do).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from cerc_shared.logging import get_correlation_id

AUDIT_TABLE = "audit_log"


def define_audit_log(metadata: MetaData) -> Table:
    """The ``audit_log`` table in a service's metadata (its migration creates it)."""
    return Table(
        AUDIT_TABLE,
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        # The community the action concerns (None: none, e.g. a login).
        Column("community_id", BigInteger),
        # Who acted (None: nobody known, e.g. a login under an unknown name).
        Column("actor_user_id", BigInteger),
        Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("action", String(60), nullable=False),
        Column("entity_type", String(30), nullable=False),
        Column("entity_id", String(64), nullable=False),
        Column("before", JSONB),
        Column("after", JSONB),
        Column("correlation_id", String(128)),
        Index("ix_audit_log_entity", "entity_type", "entity_id", "id"),
        Index("ix_audit_log_community_id", "community_id", "id"),
    )


@dataclass(frozen=True)
class AuditRecord:
    """An entry as read back (and, through :class:`AuditOut`, as the API shows it)."""

    id: int
    at: datetime
    community_id: int | None
    actor_user_id: int | None
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    correlation_id: str | None


class AuditOut(BaseModel):
    """An entry in an API answer; ``correlation_id`` is the gateway's request id."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    community_id: int | None
    actor_user_id: int | None
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    correlation_id: str | None


class AuditTrail:
    """Writes and pages one service's ``audit_log``."""

    def __init__(self, table: Table) -> None:
        self.table = table

    async def record(
        self,
        session: AsyncSession,
        action: str,
        *,
        entity_type: str,
        entity_id: str | int,
        actor_user_id: int | None,
        community_id: int | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        await session.execute(
            insert(self.table).values(
                community_id=community_id,
                actor_user_id=actor_user_id,
                action=action,
                entity_type=entity_type,
                entity_id=str(entity_id),
                before=before,
                after=after,
                correlation_id=get_correlation_id(),
            )
        )

    async def by_actor(self, session: AsyncSession, user_id: int) -> list[AuditRecord]:
        """Everything one person did, oldest first (their data export)."""
        t = self.table
        rows = await session.execute(select(t).where(t.c.actor_user_id == user_id).order_by(t.c.id))
        return [AuditRecord(**row._mapping) for row in rows]

    async def page(
        self,
        session: AsyncSession,
        *,
        page: int,
        per_page: int,
        community_id: int | None = None,
        entity_type: str | None = None,
        entity_id: str | None = None,
        action: str | None = None,
        correlation_id: str | None = None,
    ) -> tuple[Sequence[AuditRecord], int]:
        """Newest first; filtered by whichever of the criteria are given."""
        t = self.table
        query = select(t)
        for column, value in (
            (t.c.community_id, community_id),
            (t.c.entity_type, entity_type),
            (t.c.entity_id, entity_id),
            (t.c.action, action),
            (t.c.correlation_id, correlation_id),
        ):
            if value is not None:
                query = query.where(column == value)
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await session.execute(
            query.order_by(t.c.id.desc()).offset((page - 1) * per_page).limit(per_page)
        )
        return [AuditRecord(**row._mapping) for row in rows], int(total or 0)
