from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from cer_service.service import CerContext, Reads


async def _cer_context(request: Request) -> CerContext:
    context: CerContext = request.app.state.cer_context
    return context


async def _reads(request: Request) -> Reads:
    return Reads.of(request.app.state)


Cer = Annotated[CerContext, Depends(_cer_context)]
HotReads = Annotated[Reads, Depends(_reads)]
Page = Annotated[int, Query(ge=1, le=100_000)]
PerPage = Annotated[int, Query(ge=1, le=100)]
# Ids are BIGINT: anything outside is refused as a 422, never sent to the database.
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
