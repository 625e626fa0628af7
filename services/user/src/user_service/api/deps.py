from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from user_service.service import AuthContext


async def _auth_context(request: Request) -> AuthContext:
    context: AuthContext = request.app.state.auth_context
    return context


Auth = Annotated[AuthContext, Depends(_auth_context)]
