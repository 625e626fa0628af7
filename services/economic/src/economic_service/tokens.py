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
    """``send`` with the service's token (the kernel retries once after a 401), or
    without one where no client is configured (tests with stand-ins)."""
    return await tokens.send(send) if tokens is not None else await send({})
