"""A community's documents: statute, regulation and logo, checked at the door
and kept content-addressed in the document storage."""

from __future__ import annotations

import hashlib

from cerc_shared.auth import Principal
from cerc_shared.envelope import ApiError, NotFound
from cerc_shared.events.cer import CommunityUpdated, DocumentKind
from sqlalchemy.ext.asyncio import AsyncSession

from cer_service import events
from cer_service.schemas import CommunityOut
from cer_service.service.access import CerContext, access_to, require_active, require_manager
from cer_service.service.changes import Changes
from cer_service.service.communities import summary

_PDF = b"%PDF-"
_LOGO_MAGIC = {b"\x89PNG\r\n\x1a\n": ("png", "image/png"), b"\xff\xd8\xff": ("jpg", "image/jpeg")}
MEDIA_TYPES = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg"}


def _document_type(kind: DocumentKind, content_type: str | None, data: bytes) -> str:
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if kind in ("statute", "regulation"):
        if declared not in (
            "application/pdf",
            "application/octet-stream",
            "",
        ) or not data.startswith(_PDF):
            raise ApiError(
                415,
                "not_a_pdf",
                "the document must be a PDF",
                field="file",
                expected="application/pdf",
            )
        return "pdf"
    for magic, (extension, media) in _LOGO_MAGIC.items():
        if data.startswith(magic) and declared in (media, "application/octet-stream", ""):
            return extension
    raise ApiError(
        415,
        "not_an_image",
        "the logo must be PNG or JPEG",
        field="file",
        expected="image/png or image/jpeg",
    )


def document_limit(ctx: CerContext, kind: DocumentKind) -> int:
    return ctx.settings.max_logo_bytes if kind == "logo" else ctx.settings.max_document_bytes


async def upload_document(
    session: AsyncSession,
    ctx: CerContext,
    principal: Principal,
    community_id: int,
    kind: DocumentKind,
    content_type: str | None,
    data: bytes,
) -> CommunityOut:
    acc = await access_to(session, principal, community_id, for_update=True)
    require_manager(acc)
    require_active(acc.community)
    limit = document_limit(ctx, kind)
    if len(data) > limit:
        raise ApiError(
            413, "document_too_large", f"the {kind} may be at most {limit} bytes", field="file"
        )
    if not data:
        raise ApiError(422, "empty_document", "the file is empty", field="file")
    extension = _document_type(kind, content_type, data)
    key = f"{community_id}/{kind}-{hashlib.sha256(data).hexdigest()[:32]}.{extension}"
    # Content-addressed: a write whose transaction then rolls back leaves an
    # unreferenced file, never a wrong one.
    await ctx.storage.put(key, data)
    community = acc.community
    column = "logo" if kind == "logo" else f"{kind}_document"
    async with Changes(session, principal).change(
        community, f"document.{kind}.uploaded", community_id=community_id
    ) as change:
        setattr(community, column, key)
        change.publish(await events.community_event(session, community, CommunityUpdated, [column]))
    return await summary(session, acc)


async def download_document(
    session: AsyncSession,
    ctx: CerContext,
    principal: Principal,
    community_id: int,
    kind: DocumentKind,
) -> tuple[bytes, str]:
    acc = await access_to(session, principal, community_id)
    column = "logo" if kind == "logo" else f"{kind}_document"
    key: str | None = getattr(acc.community, column)
    data = await ctx.storage.get(key) if key else None
    if data is None or key is None:
        raise NotFound(kind)
    return data, MEDIA_TYPES[key.rsplit(".", 1)[-1]]
