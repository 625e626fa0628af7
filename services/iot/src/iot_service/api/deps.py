from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from iot_service.service import IotContext


async def _context(request: Request) -> IotContext:
    context: IotContext = request.app.state.iot_context
    return context


Iot = Annotated[IotContext, Depends(_context)]
