"""This service's own client-credentials token, shared by its calls to other services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from cerc_shared.service_tokens import ClientCredentials

from economic_service.settings import EconomicSettings


def client_tokens(settings: EconomicSettings) -> ClientCredentials | None:
    """The token source, or None when no client is configured (tests with stand-ins)."""
    if not settings.client_id:
        return None
    return ClientCredentials(settings.token_url, settings.client_id, settings.client_secret)


async def call_with_token(
    tokens: ClientCredentials | None, send: Callable[[dict[str, str]], Awaitable[httpx.Response]]
) -> httpx.Response:
    """``send(headers)`` with the token; answered 401 (a token revoked or signed with a
    rotated key), once more with a fresh one."""
    response = await send(await tokens.headers() if tokens else {})
    if response.status_code == 401 and tokens is not None:
        tokens.invalidate()
        response = await send(await tokens.headers())
    return response
