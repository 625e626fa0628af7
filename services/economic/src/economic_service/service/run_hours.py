"""The hours of a completed run, per primary substation, as the engine computed them: kept
with the run (it is immutable, so its detail is too) and read back page by page."""

from __future__ import annotations

from datetime import UTC, datetime

from cacer import Settlement
from sqlalchemy.ext.asyncio import AsyncSession

from economic_service import repository


async def store(session: AsyncSession, run_id: int, settlement: Settlement) -> None:
    h = settlement.hourly
    starts = [datetime.fromtimestamp(int(t), UTC) for t in h.grid.starts_utc()]
    rows = [
        (
            substation.code,
            starts[t],
            int(h.substation_fed_in_wh[k, t]),
            int(h.substation_withdrawn_wh[k, t]),
            int(h.substation_shared_wh[k, t]),
            int(h.substation_incentivised_wh[k, t]),
        )
        for k, substation in enumerate(settlement.substations)
        for t in range(h.grid.count)
    ]
    await repository.insert_settlement_hours(session, run_id, rows)
