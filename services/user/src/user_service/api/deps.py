from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from user_service.service import AuthContext


async def _auth_context(request: Request) -> AuthContext:
    context: AuthContext = request.app.state.auth_context
    return context


Auth = Annotated[AuthContext, Depends(_auth_context)]


async def _client_address(request: Request) -> str:
    """Who is knocking, for the login throttle.

    The gateway writes the connection's address into the configured header
    (overwriting any copy the client sent); only the gateway reaches the
    service (NetworkPolicy), so the header is trusted when present.
    """
    context: AuthContext = request.app.state.auth_context
    given = request.headers.get(context.settings.client_address_header, "").strip()
    if given:
        return given[:64]
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(_client_address)]
