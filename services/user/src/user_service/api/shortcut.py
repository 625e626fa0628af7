"""``GET /api/users/me/`` answered before routing.

The profile is the hottest read of the platform (every page of the front end
asks for it), and its own work is small: the token check, one statement on the
read pool, the body. FastAPI's routing, parameter and dependency handling
around it cost as much again (py-spy at 50 clients: about half of the
service's time per request). Here the same checks run in the same functions,
without that machinery: the token through ``cerc_shared.auth.principal_for``
(the app's verifier and its deactivated-user status, as ``CurrentPrincipal``
asks) and the body from
``service.profile_json``, as the endpoint builds it.

Anything else goes on to the endpoint, which answers it: another path or
method, no or a malformed ``Authorization`` header, a token refused for any
reason, a user no longer there. So every refusal keeps its envelope, its
status and its headers. Take this middleware away and every answer is the
same, only slower.
"""

from __future__ import annotations

from types import SimpleNamespace

from cerc_shared.app import send_json
from cerc_shared.auth import principal_for, scope_bearer_token
from cerc_shared.envelope import ApiError
from starlette.types import ASGIApp, Receive, Scope, Send

from user_service import service

PROFILE = "/api/users/me/"
# Metrics label the answer with the route it stands for.
PROFILE_ROUTE = SimpleNamespace(path=PROFILE)


class ProfileShortcut:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == PROFILE:
            body = await self._profile(scope)
            if body is not None:
                scope["route"] = PROFILE_ROUTE
                await send_json(send, body)
                return
        await self.app(scope, receive, send)

    async def _profile(self, scope: Scope) -> bytes | None:
        token = scope_bearer_token(scope)
        if token is None:
            return None
        state = scope["app"].state
        try:
            principal = await principal_for(state, token)
            return await service.profile_json(state.read_pool, principal.user_id)
        except ApiError:
            return None  # the endpoint gives the refusal its proper answer
