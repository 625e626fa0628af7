"""``/api/notifications/``: one's own inbox, its unread count, one's preferences."""

from __future__ import annotations

from typing import Annotated

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import ApiError, Envelope, PageMeta, ok
from cerc_shared.ids import PathId
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from notification_service import service
from notification_service.kinds import KINDS
from notification_service.schemas import (
    NotificationOut,
    PreferenceOut,
    PreferencesIn,
    UnreadCount,
    Unsubscribed,
)
from notification_service.unsubscribe import unsubscribe_html, verify

router = APIRouter(prefix="/api/notifications", tags=["notifications"])


@router.get("/")
async def list_notifications(
    session: DbSession,
    principal: CurrentPrincipal,
    unread: Annotated[bool, Query(description="only those not read yet")] = False,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Envelope[list[NotificationOut]]:
    items, total = await service.inbox(
        session, principal, unread_only=unread, page=page, per_page=per_page
    )
    return ok(
        [NotificationOut(**i) for i in items], PageMeta(page=page, per_page=per_page, total=total)
    )


@router.get("/unread-count/")
async def unread_count(session: DbSession, principal: CurrentPrincipal) -> Envelope[UnreadCount]:
    return ok(UnreadCount(unread=await service.unread_count(session, principal)))


@router.post("/{notification_id}/read/")
async def mark_read(
    notification_id: PathId, session: DbSession, principal: CurrentPrincipal
) -> Envelope[NotificationOut]:
    return ok(NotificationOut(**await service.mark_read(session, principal, notification_id)))


@router.get("/preferences/")
async def get_preferences(
    session: DbSession, principal: CurrentPrincipal
) -> Envelope[list[PreferenceOut]]:
    rows = await service.preferences(session, principal.user_id)
    return ok([PreferenceOut(**r) for r in rows])


@router.put("/preferences/")
async def put_preferences(
    body: PreferencesIn, session: DbSession, principal: CurrentPrincipal
) -> Envelope[list[PreferenceOut]]:
    choices: list[tuple[str, str, bool]] = [
        (p.kind, p.channel, p.enabled) for p in body.preferences
    ]
    rows = await service.set_preferences(session, principal.user_id, choices)
    return ok([PreferenceOut(**r) for r in rows])


def _unsubscribe_target(request: Request, token: str) -> tuple[int, str]:
    found = verify(request.app.state.settings.unsubscribe_secret, token)
    if found is None or found[1] not in KINDS or not KINDS[found[1]].optional:
        raise ApiError(400, "invalid_token", "this unsubscribe link is not valid", field="token")
    return found


Token = Annotated[str, Query(min_length=3, max_length=200, description="the signed link token")]


@router.get("/unsubscribe/")
async def unsubscribe_page(request: Request, token: Token) -> HTMLResponse:
    """The link in a mail, opened: a page that asks, never a change (mail
    scanners open links too). Its button posts the one-click request."""
    _, kind = _unsubscribe_target(request, token)
    return HTMLResponse(unsubscribe_html(kind, token, done=False))


@router.post("/unsubscribe/", response_model=None)
async def unsubscribe(
    request: Request, session: DbSession, token: Token
) -> Envelope[Unsubscribed] | HTMLResponse:
    """RFC 8058 one-click unsubscribe (the mail client posts
    ``List-Unsubscribe=One-Click``), and the page's button: no login, the
    signed token says whose and which kind."""
    user_id, kind = _unsubscribe_target(request, token)
    await service.set_preferences(session, user_id, [(kind, "email", False)])
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(unsubscribe_html(kind, token, done=True))
    return ok(Unsubscribed(kind=kind))
