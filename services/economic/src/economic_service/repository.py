"""Queries of the economic service's own tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from cerc_shared.clock import ITALY
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from economic_service.models import (
    Account,
    AuditRecord,
    ExpectedGsePayment,
    GseAdvance,
    GseBalance,
    GseCredential,
    GseImport,
    GsePayment,
    GsePlant,
    GseResult,
    GseSyncJob,
    JournalEntry,
    ManagementFee,
    MarketPrice,
    MemberResult,
    Payout,
    PayoutAccount,
    PayoutTransfer,
    Posting,
    PriceImport,
    PriceRevision,
    ReconciliationAlert,
    RuleParameter,
    SettlementHour,
    SettlementRun,
    Transaction,
    ZonalPrice,
)


async def prices_between(
    session: AsyncSession, zones: set[str], start: datetime, end: datetime
) -> list[tuple[str, datetime, Decimal, str]]:
    """(zone, hour, €/MWh, source) of every stored hourly Pz of these zones in [start, end)."""
    rows = await session.execute(
        select(ZonalPrice.zone, ZonalPrice.hour_utc, ZonalPrice.eur_mwh, ZonalPrice.source)
        .where(
            ZonalPrice.zone.in_(zones),
            ZonalPrice.hour_utc >= start,
            ZonalPrice.hour_utc < end,
        )
        .order_by(ZonalPrice.zone, ZonalPrice.hour_utc)
    )
    return [(r.zone, r.hour_utc, r.eur_mwh, r.source) for r in rows]


async def price_import_by_digest(session: AsyncSession, sha256: str) -> PriceImport | None:
    found: PriceImport | None = await session.scalar(
        select(PriceImport).where(PriceImport.sha256 == sha256)
    )
    return found


async def price_imports(
    session: AsyncSession, *, offset: int, limit: int
) -> tuple[list[PriceImport], int]:
    total = await session.scalar(select(func.count()).select_from(PriceImport)) or 0
    rows = await session.scalars(
        select(PriceImport).order_by(PriceImport.id.desc()).offset(offset).limit(limit)
    )
    return list(rows), int(total)


# Both upserts compare with what is stored and write only what differs; the CTEs all see the
# rows as they were before the statement, so ``changed`` holds the values being replaced.
_UPSERT_MARKET = text(
    """
WITH incoming AS (
  SELECT * FROM unnest(CAST(:zones AS varchar[]), CAST(:starts AS timestamptz[]),
                       CAST(:minutes AS int[]), CAST(:eurs AS numeric[]))
           AS t(zone, start_utc, minutes, eur_mwh)
), changed AS (
  SELECT m.zone, m.start_utc, m.minutes, m.eur_mwh AS old, i.eur_mwh AS new, m.import_id
  FROM market_prices m JOIN incoming i USING (zone, start_utc, minutes)
  WHERE m.eur_mwh <> i.eur_mwh
), history AS (
  INSERT INTO price_revisions
    (kind, zone, start_utc, minutes, old_eur_mwh, new_eur_mwh, old_import_id, import_id)
  SELECT 'market', zone, start_utc, minutes, old, new, import_id, :import_id FROM changed
)
INSERT INTO market_prices (zone, start_utc, minutes, eur_mwh, import_id)
SELECT zone, start_utc, minutes, eur_mwh, :import_id FROM incoming
ON CONFLICT (zone, start_utc, minutes) DO UPDATE
  SET eur_mwh = excluded.eur_mwh, import_id = excluded.import_id
  WHERE market_prices.eur_mwh <> excluded.eur_mwh
"""
)

_UPSERT_ZONAL = text(
    """
WITH incoming AS (
  SELECT * FROM unnest(CAST(:zones AS varchar[]), CAST(:hours AS timestamptz[]),
                       CAST(:eurs AS numeric[]), CAST(:sources AS varchar[]))
           AS t(zone, hour_utc, eur_mwh, source)
), changed AS (
  SELECT z.zone, z.hour_utc, z.eur_mwh AS old, i.eur_mwh AS new, z.import_id
  FROM zonal_prices z JOIN incoming i USING (zone, hour_utc)
  WHERE z.eur_mwh <> i.eur_mwh AND NOT (z.source = :keep AND i.source = :over)
), history AS (
  INSERT INTO price_revisions
    (kind, zone, start_utc, minutes, old_eur_mwh, new_eur_mwh, old_import_id, import_id)
  SELECT 'zonal', zone, hour_utc, 60, old, new, import_id, :import_id FROM changed
), written AS (
  INSERT INTO zonal_prices (zone, hour_utc, eur_mwh, source, import_id)
  SELECT zone, hour_utc, eur_mwh, source, :import_id FROM incoming
  ON CONFLICT (zone, hour_utc) DO UPDATE
    SET eur_mwh = excluded.eur_mwh, source = excluded.source, import_id = excluded.import_id
    WHERE (zonal_prices.eur_mwh <> excluded.eur_mwh OR zonal_prices.source <> excluded.source)
      AND NOT (zonal_prices.source = :keep AND excluded.source = :over)
  RETURNING (xmax = 0) AS inserted
)
SELECT (SELECT count(*) FROM written WHERE inserted), (SELECT count(*) FROM changed)
"""
)

#: Rows per statement: a year of quarter hours for seven zones is ~245,000 prices.
_CHUNK = 20_000


async def upsert_market_prices(
    session: AsyncSession, import_id: int, rows: Sequence[tuple[str, datetime, int, Decimal]]
) -> None:
    for k in range(0, len(rows), _CHUNK):
        chunk = rows[k : k + _CHUNK]
        await session.execute(
            _UPSERT_MARKET,
            {
                "zones": [r[0] for r in chunk],
                "starts": [r[1] for r in chunk],
                "minutes": [r[2] for r in chunk],
                "eurs": [r[3] for r in chunk],
                "import_id": import_id,
            },
        )


async def upsert_zonal_prices(
    session: AsyncSession,
    import_id: int,
    rows: Sequence[tuple[str, datetime, Decimal, str]],
    *,
    keep_source: str,
    over_source: str,
) -> tuple[int, int]:
    """(hours added, hours whose price changed); a ``keep_source`` price is never replaced by
    an ``over_source`` one."""
    added = superseded = 0
    for k in range(0, len(rows), _CHUNK):
        chunk = rows[k : k + _CHUNK]
        counts = (
            await session.execute(
                _UPSERT_ZONAL,
                {
                    "zones": [r[0] for r in chunk],
                    "hours": [r[1] for r in chunk],
                    "eurs": [r[2] for r in chunk],
                    "sources": [r[3] for r in chunk],
                    "import_id": import_id,
                    "keep": keep_source,
                    "over": over_source,
                },
            )
        ).one()
        added += int(counts[0])
        superseded += int(counts[1])
    return added, superseded


async def zonal_prices_page(
    session: AsyncSession,
    zone: str | None,
    start: datetime,
    end: datetime,
    *,
    offset: int,
    limit: int,
) -> tuple[list[ZonalPrice], int]:
    where = [ZonalPrice.hour_utc >= start, ZonalPrice.hour_utc < end]
    if zone is not None:
        where.append(ZonalPrice.zone == zone)
    total = await session.scalar(select(func.count()).select_from(ZonalPrice).where(*where)) or 0
    rows = await session.scalars(
        select(ZonalPrice)
        .where(*where)
        .order_by(ZonalPrice.hour_utc, ZonalPrice.zone)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total)


async def market_prices_page(
    session: AsyncSession,
    zone: str | None,
    start: datetime,
    end: datetime,
    *,
    offset: int,
    limit: int,
) -> tuple[list[MarketPrice], int]:
    where = [MarketPrice.start_utc >= start, MarketPrice.start_utc < end, MarketPrice.minutes == 15]
    if zone is not None:
        where.append(MarketPrice.zone == zone)
    total = await session.scalar(select(func.count()).select_from(MarketPrice).where(*where)) or 0
    rows = await session.scalars(
        select(MarketPrice)
        .where(*where)
        .order_by(MarketPrice.start_utc, MarketPrice.zone)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total)


async def price_revisions(
    session: AsyncSession, zone: str, start: datetime, end: datetime
) -> list[PriceRevision]:
    rows = await session.scalars(
        select(PriceRevision)
        .where(
            PriceRevision.zone == zone,
            PriceRevision.start_utc >= start,
            PriceRevision.start_utc < end,
        )
        .order_by(PriceRevision.id)
    )
    return list(rows)


# ------------------------------------------------------------------ rule parameters


async def rule_parameters(session: AsyncSession, name: str | None = None) -> list[RuleParameter]:
    query = select(RuleParameter)
    if name is not None:
        query = query.where(RuleParameter.name == name)
    rows = await session.scalars(
        query.order_by(RuleParameter.name, RuleParameter.key, RuleParameter.valid_from)
    )
    return list(rows)


async def rule_parameter(
    session: AsyncSession, name: str, key: str, valid_from: date, *, lock: bool = False
) -> RuleParameter | None:
    query = select(RuleParameter).where(
        RuleParameter.name == name, RuleParameter.key == key, RuleParameter.valid_from == valid_from
    )
    if lock:
        query = query.with_for_update()
    found: RuleParameter | None = await session.scalar(query)
    return found


async def parameter_audit(session: AsyncSession, *, limit: int) -> list[AuditRecord]:
    rows = await session.scalars(
        select(AuditRecord)
        .where(AuditRecord.action.like("parameter.%"))
        .order_by(AuditRecord.id.desc())
        .limit(limit)
    )
    return list(rows)


# ------------------------------------------------------------------ the hours of a run


async def insert_settlement_hours(
    session: AsyncSession,
    run_id: int,
    rows: Sequence[tuple[str, datetime, int, int, int, int]],
) -> None:
    for k in range(0, len(rows), _CHUNK):
        chunk = rows[k : k + _CHUNK]
        await session.execute(
            insert(SettlementHour),
            [
                {
                    "run_id": run_id,
                    "substation": r[0],
                    "hour_utc": r[1],
                    "fed_in_wh": r[2],
                    "withdrawn_wh": r[3],
                    "shared_wh": r[4],
                    "incentivised_wh": r[5],
                }
                for r in chunk
            ],
        )


async def settlement_hours_page(
    session: AsyncSession, run_id: int, substation: str | None, *, offset: int, limit: int
) -> tuple[list[SettlementHour], int]:
    where = [SettlementHour.run_id == run_id]
    if substation is not None:
        where.append(SettlementHour.substation == substation)
    total = (
        await session.scalar(select(func.count()).select_from(SettlementHour).where(*where)) or 0
    )
    rows = await session.scalars(
        select(SettlementHour)
        .where(*where)
        .order_by(SettlementHour.hour_utc, SettlementHour.substation)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total)


async def run(session: AsyncSession, run_id: int, *, lock: bool = False) -> SettlementRun | None:
    query = select(SettlementRun).where(SettlementRun.id == run_id)
    if lock:
        query = query.with_for_update()
    found: SettlementRun | None = await session.scalar(query)
    return found


async def claim_queued_run(session: AsyncSession) -> SettlementRun | None:
    found: SettlementRun | None = await session.scalar(
        select(SettlementRun)
        .where(SettlementRun.status == "QUEUED")
        .order_by(SettlementRun.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return found


async def previous_completed_run(
    session: AsyncSession, community_id: int, period: str, before_id: int
) -> SettlementRun | None:
    found: SettlementRun | None = await session.scalar(
        select(SettlementRun)
        .where(
            SettlementRun.community_id == community_id,
            SettlementRun.period == period,
            SettlementRun.status == "COMPLETED",
            SettlementRun.id < before_id,
        )
        .order_by(SettlementRun.id.desc())
        .limit(1)
    )
    return found


async def final_run(session: AsyncSession, community_id: int, period: str) -> SettlementRun | None:
    found: SettlementRun | None = await session.scalar(
        select(SettlementRun).where(
            SettlementRun.community_id == community_id,
            SettlementRun.period == period,
            SettlementRun.kind == "FINAL",
        )
    )
    return found


async def member_results(session: AsyncSession, run_id: int) -> list[MemberResult]:
    rows = await session.scalars(
        select(MemberResult).where(MemberResult.run_id == run_id).order_by(MemberResult.user_id)
    )
    return list(rows)


async def runs_of_community(
    session: AsyncSession, community_id: int, period: str | None
) -> list[SettlementRun]:
    query = select(SettlementRun).where(SettlementRun.community_id == community_id)
    if period is not None:
        query = query.where(SettlementRun.period == period)
    return list(await session.scalars(query.order_by(SettlementRun.id.desc()).limit(200)))


async def final_member_results(
    session: AsyncSession, *, user_id: int | None, community_id: int | None
) -> list[tuple[SettlementRun, MemberResult]]:
    query = (
        select(SettlementRun, MemberResult)
        .join(MemberResult, MemberResult.run_id == SettlementRun.id)
        .where(SettlementRun.kind == "FINAL")
    )
    if user_id is not None:
        query = query.where(MemberResult.user_id == user_id)
    if community_id is not None:
        query = query.where(SettlementRun.community_id == community_id)
    rows = await session.execute(
        query.order_by(SettlementRun.community_id, SettlementRun.period, MemberResult.user_id)
    )
    return [(r[0], r[1]) for r in rows]


# ------------------------------------------------------------------ books


async def account_id(session: AsyncSession, community_id: int, kind: str, user_id: int = 0) -> int:
    await session.execute(
        insert(Account)
        .values(community_id=community_id, kind=kind, user_id=user_id)
        .on_conflict_do_nothing(index_elements=["community_id", "kind", "user_id"])
    )
    found = await session.scalar(
        select(Account.id).where(
            Account.community_id == community_id, Account.kind == kind, Account.user_id == user_id
        )
    )
    assert found is not None  # inserted above, or there already
    return int(found)


async def insert_entry(session: AsyncSession, values: dict[str, object]) -> int | None:
    """The new entry's id, or None when an entry with its idempotency key exists."""
    entry_id: int | None = await session.scalar(
        insert(JournalEntry)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(JournalEntry.id)
    )
    return entry_id


async def balances(session: AsyncSession, community_id: int) -> list[tuple[str, int, int]]:
    """(kind, user_id, balance in cents: debits positive) of every account of the community."""
    rows = await session.execute(
        select(Account.kind, Account.user_id, func.coalesce(func.sum(Posting.amount_cents), 0))
        .outerjoin(Posting, Posting.account_id == Account.id)
        .where(Account.community_id == community_id)
        .group_by(Account.id)
        .order_by(Account.kind, Account.user_id)
    )
    return [(r[0], r[1], int(r[2])) for r in rows]


async def entry_imbalances(session: AsyncSession, community_id: int) -> list[int]:
    """Entries of the community whose postings do not sum to zero (there should be none)."""
    rows = await session.scalars(
        select(JournalEntry.id)
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .where(JournalEntry.community_id == community_id)
        .group_by(JournalEntry.id)
        .having(func.sum(Posting.amount_cents) != 0)
    )
    return list(rows)


async def reported_runs(
    session: AsyncSession, community_id: int, period_prefix: str
) -> list[SettlementRun]:
    """Per month whose period starts with ``period_prefix`` (YYYY-MM or YYYY), the
    run a report shows: the FINAL one when approved, else the newest COMPLETED."""
    query = (
        select(SettlementRun)
        .where(
            SettlementRun.community_id == community_id,
            SettlementRun.status == "COMPLETED",
            SettlementRun.period.startswith(period_prefix, autoescape=True),
        )
        .order_by(SettlementRun.period, SettlementRun.id.desc())
    )
    chosen: dict[str, SettlementRun] = {}
    for run in await session.scalars(query):
        held = chosen.get(run.period)
        if held is None or (run.kind == "FINAL" and held.kind != "FINAL"):
            chosen[run.period] = run
    return [chosen[period] for period in sorted(chosen)]


async def member_results_of_runs(
    session: AsyncSession, run_ids: list[int]
) -> dict[int, list[MemberResult]]:
    out: dict[int, list[MemberResult]] = {run_id: [] for run_id in run_ids}
    rows = await session.scalars(
        select(MemberResult)
        .where(MemberResult.run_id.in_(run_ids))
        .order_by(MemberResult.run_id, MemberResult.user_id)
    )
    for row in rows:
        out[row.run_id].append(row)
    return out


async def transactions_of_year(
    session: AsyncSession, community_id: int, year: int
) -> list[Transaction]:
    start = datetime(year, 1, 1, tzinfo=ITALY)
    end = datetime(year + 1, 1, 1, tzinfo=ITALY)
    return list(
        await session.scalars(
            select(Transaction)
            .where(
                Transaction.community_id == community_id,
                Transaction.created_at >= start,
                Transaction.created_at < end,
            )
            .order_by(Transaction.id)
        )
    )


# ------------------------------------------------------------------ payouts


async def payout_account(
    session: AsyncSession, community_id: int, *, lock: bool = False
) -> PayoutAccount | None:
    query = select(PayoutAccount).where(PayoutAccount.community_id == community_id)
    if lock:
        # Payouts of one community are made one at a time: the second waits here and
        # then finds the balances the first has already moved.
        query = query.with_for_update()
    found: PayoutAccount | None = await session.scalar(query)
    return found


async def member_payables(session: AsyncSession, community_id: int) -> dict[int, int]:
    """What the community owes each member now, in cents (MEMBER_PAYABLE credit balances)."""
    rows = await session.execute(
        select(Account.user_id, func.coalesce(func.sum(Posting.amount_cents), 0))
        .outerjoin(Posting, Posting.account_id == Account.id)
        .where(Account.community_id == community_id, Account.kind == "MEMBER_PAYABLE")
        .group_by(Account.user_id)
        .order_by(Account.user_id)
    )
    return {int(user): -int(balance) for user, balance in rows}


async def payout(session: AsyncSession, payout_id: int, *, lock: bool = False) -> Payout | None:
    query = select(Payout).where(Payout.id == payout_id)
    if lock:
        query = query.with_for_update()
    found: Payout | None = await session.scalar(query)
    return found


async def payouts_of_community(session: AsyncSession, community_id: int) -> list[Payout]:
    return list(
        await session.scalars(
            select(Payout)
            .where(Payout.community_id == community_id)
            .order_by(Payout.id.desc())
            .limit(200)
        )
    )


async def payout_transfers(
    session: AsyncSession, payout_id: int, *, lock: bool = False
) -> list[PayoutTransfer]:
    query = (
        select(PayoutTransfer)
        .where(PayoutTransfer.payout_id == payout_id)
        .order_by(PayoutTransfer.id)
    )
    if lock:
        query = query.with_for_update()
    return list(await session.scalars(query))


async def paid_by_payouts(session: AsyncSession, user_id: int) -> int:
    """Cents the member was paid by SEPA transfers the bank reported executed."""
    paid = await session.scalar(
        select(func.coalesce(func.sum(PayoutTransfer.amount_cents), 0)).where(
            PayoutTransfer.user_id == user_id, PayoutTransfer.status == "PROCESSED"
        )
    )
    return int(paid or 0)


async def insert_missing_prices(
    session: AsyncSession, rows: list[tuple[str, datetime, Decimal, str]]
) -> int:
    """Zonal prices for hours that have none yet (an imported price always wins)."""
    if not rows:
        return 0
    result = await session.execute(
        insert(ZonalPrice)
        .values([{"zone": z, "hour_utc": h, "eur_mwh": p, "source": s} for z, h, p, s in rows])
        .on_conflict_do_nothing(index_elements=["zone", "hour_utc"])
        .returning(ZonalPrice.hour_utc)
    )
    return len(result.all())


async def insert_trase_if_absent(
    session: AsyncSession, year: int, eur_mwh: Decimal, source: str, created_by: int
) -> bool:
    """A TRASe for ``year`` (from 1 January) unless the platform already has one."""
    start = date(year, 1, 1)
    existing = await session.scalar(
        select(RuleParameter.valid_from).where(
            RuleParameter.name == "trase_eur_mwh",
            RuleParameter.valid_from >= start,
            RuleParameter.valid_from < date(year + 1, 1, 1),
        )
    )
    if existing is not None:
        return False
    inserted = await session.scalar(
        insert(RuleParameter)
        .values(
            name="trase_eur_mwh",
            key="",
            valid_from=start,
            value=eur_mwh,
            source=source,
            set_by=created_by,
        )
        .on_conflict_do_nothing(index_elements=["name", "key", "valid_from"])
        .returning(RuleParameter.valid_from)
    )
    return inserted is not None


# ------------------------------------------------------------------ fees and postings


async def fee_in_force(session: AsyncSession, community_id: int, day: date) -> ManagementFee | None:
    found: ManagementFee | None = await session.scalar(
        select(ManagementFee)
        .where(ManagementFee.community_id == community_id, ManagementFee.valid_from <= day)
        .order_by(ManagementFee.valid_from.desc())
        .limit(1)
    )
    return found


async def fees_of_community(session: AsyncSession, community_id: int) -> list[ManagementFee]:
    return list(
        await session.scalars(
            select(ManagementFee)
            .where(ManagementFee.community_id == community_id)
            .order_by(ManagementFee.valid_from)
        )
    )


async def last_posted_run(
    session: AsyncSession, community_id: int, period: str
) -> SettlementRun | None:
    """The run of the month whose figures the books hold now (FINAL, or the latest
    ADJUSTMENT posted after it)."""
    found: SettlementRun | None = await session.scalar(
        select(SettlementRun)
        .join(JournalEntry, JournalEntry.settlement_run_id == SettlementRun.id)
        .where(
            SettlementRun.community_id == community_id,
            SettlementRun.period == period,
            JournalEntry.kind.in_(("SETTLEMENT_DISTRIBUTION", "SETTLEMENT_ADJUSTMENT")),
        )
        .order_by(JournalEntry.id.desc())
        .limit(1)
    )
    return found


# ------------------------------------------------------------------ the GSE loop


async def gse_credential(session: AsyncSession, community_id: int) -> GseCredential | None:
    found: GseCredential | None = await session.get(GseCredential, community_id)
    return found


async def save_gse_credential(
    session: AsyncSession, community_id: int, client_id: str, sealed: str, by: int
) -> None:
    values = {"client_id": client_id, "client_secret_sealed": sealed, "updated_by": by}
    await session.execute(
        insert(GseCredential)
        .values(community_id=community_id, **values)
        .on_conflict_do_update(
            index_elements=["community_id"], set_={**values, "updated_at": func.now()}
        )
    )


async def set_gse_configuration(session: AsyncSession, community_id: int, gse_id: str) -> None:
    credential = await gse_credential(session, community_id)
    if credential is not None:
        credential.configuration_id = gse_id


async def communities_with_gse_credentials(session: AsyncSession) -> list[int]:
    return list(await session.scalars(select(GseCredential.community_id)))


async def save_gse_plant(
    session: AsyncSession, community_id: int, pod: str, gse_plant_id: str, eligibility: str | None
) -> None:
    values = {"gse_plant_id": gse_plant_id, "eligibility": eligibility}
    await session.execute(
        insert(GsePlant)
        .values(community_id=community_id, pod=pod, **values)
        .on_conflict_do_update(index_elements=["community_id", "pod"], set_=values)
    )


async def gse_plants(session: AsyncSession, community_id: int) -> dict[str, GsePlant]:
    rows = await session.scalars(select(GsePlant).where(GsePlant.community_id == community_id))
    return {p.pod: p for p in rows}


async def gse_job(session: AsyncSession, job_id: int, *, lock: bool = False) -> GseSyncJob | None:
    query = select(GseSyncJob).where(GseSyncJob.id == job_id)
    if lock:
        query = query.with_for_update()
    found: GseSyncJob | None = await session.scalar(query)
    return found


async def open_gse_job(session: AsyncSession, community_id: int) -> GseSyncJob | None:
    """A job of the community still QUEUED or RUNNING (the schedule adds no second one)."""
    found: GseSyncJob | None = await session.scalar(
        select(GseSyncJob)
        .where(
            GseSyncJob.community_id == community_id,
            GseSyncJob.status.in_(("QUEUED", "RUNNING")),
        )
        .limit(1)
    )
    return found


async def claim_queued_gse_job(session: AsyncSession) -> GseSyncJob | None:
    found: GseSyncJob | None = await session.scalar(
        select(GseSyncJob)
        .where(GseSyncJob.status == "QUEUED")
        .order_by(GseSyncJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return found


async def requeue_running_gse_jobs(session: AsyncSession) -> None:
    await session.execute(
        update(GseSyncJob).where(GseSyncJob.status == "RUNNING").values(status="QUEUED")
    )


async def recent_gse_jobs(session: AsyncSession, community_id: int) -> list[GseSyncJob]:
    rows = await session.scalars(
        select(GseSyncJob)
        .where(GseSyncJob.community_id == community_id)
        .order_by(GseSyncJob.id.desc())
        .limit(10)
    )
    return list(rows)


async def insert_gse_result(session: AsyncSession, values: dict[str, object]) -> int | None:
    """The new row's id, or None when the GSE said exactly this before."""
    new_id: int | None = await session.scalar(
        insert(GseResult)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["community_id", "gse_id", "content_sha256"])
        .returning(GseResult.id)
    )
    return new_id


async def latest_gse_result(
    session: AsyncSession, community_id: int, month: str
) -> GseResult | None:
    found: GseResult | None = await session.scalar(
        select(GseResult)
        .where(GseResult.community_id == community_id, GseResult.month == month)
        .order_by(GseResult.id.desc())
        .limit(1)
    )
    return found


async def insert_gse_advance(session: AsyncSession, values: dict[str, object]) -> bool:
    new: str | None = await session.scalar(
        insert(GseAdvance)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["gse_id"])
        .returning(GseAdvance.gse_id)
    )
    return new is not None


async def gse_advances(session: AsyncSession, community_id: int, month: str) -> list[GseAdvance]:
    rows = await session.scalars(
        select(GseAdvance)
        .where(GseAdvance.community_id == community_id, GseAdvance.month == month)
        .order_by(GseAdvance.pod)
    )
    return list(rows)


async def insert_gse_payment(session: AsyncSession, values: dict[str, object]) -> bool:
    """True when the payment is new; a payment pulled again inserts nothing."""
    new: str | None = await session.scalar(
        insert(GsePayment)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["gse_id"])
        .returning(GsePayment.gse_id)
    )
    return new is not None


async def gse_payment(session: AsyncSession, gse_id: str) -> GsePayment | None:
    found: GsePayment | None = await session.get(GsePayment, gse_id)
    return found


async def gse_payments(session: AsyncSession, community_id: int) -> list[GsePayment]:
    rows = await session.scalars(
        select(GsePayment)
        .where(GsePayment.community_id == community_id)
        .order_by(GsePayment.payment_date, GsePayment.gse_id)
    )
    return list(rows)


async def save_gse_balance(
    session: AsyncSession,
    community_id: int,
    carried_over_cents: int,
    pending_items: list[dict[str, object]],
    last_run_on: date | None,
) -> None:
    values = {
        "carried_over_cents": carried_over_cents,
        "pending_items": pending_items,
        "last_run_on": last_run_on,
    }
    await session.execute(
        insert(GseBalance)
        .values(community_id=community_id, **values)
        .on_conflict_do_update(
            index_elements=["community_id"], set_={**values, "updated_at": func.now()}
        )
    )


async def gse_balance(session: AsyncSession, community_id: int) -> GseBalance | None:
    found: GseBalance | None = await session.get(GseBalance, community_id)
    return found


async def save_expected_payment(session: AsyncSession, values: dict[str, object]) -> None:
    await session.execute(
        insert(ExpectedGsePayment)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["community_id", "period", "pod"],
            set_={k: v for k, v in values.items() if k in ("kind", "amount_cents", "due_on")},
        )
    )


async def expected_payments(
    session: AsyncSession, community_id: int, period: str
) -> list[ExpectedGsePayment]:
    rows = await session.scalars(
        select(ExpectedGsePayment)
        .where(
            ExpectedGsePayment.community_id == community_id,
            ExpectedGsePayment.period == period,
        )
        .order_by(ExpectedGsePayment.pod)
    )
    return list(rows)


async def latest_completed_run(
    session: AsyncSession, community_id: int, period: str
) -> SettlementRun | None:
    found: SettlementRun | None = await session.scalar(
        select(SettlementRun)
        .where(
            SettlementRun.community_id == community_id,
            SettlementRun.period == period,
            SettlementRun.status == "COMPLETED",
        )
        .order_by(SettlementRun.id.desc())
        .limit(1)
    )
    return found


async def insert_reconciliation_alert(session: AsyncSession, values: dict[str, object]) -> bool:
    """True the first time this GSE figure and this run are found to disagree."""
    new: int | None = await session.scalar(
        insert(ReconciliationAlert)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(ReconciliationAlert.run_id)
    )
    return new is not None


async def add_gse_import(session: AsyncSession, record: GseImport) -> None:
    session.add(record)
    await session.flush()


async def latest_gse_results_of_year(
    session: AsyncSession, community_id: int, year: int
) -> list[GseResult]:
    """The newest figures of each month of ``year`` the GSE published."""
    rows = await session.scalars(
        select(GseResult)
        .where(GseResult.community_id == community_id, GseResult.month.like(f"{year:04d}-%"))
        .order_by(GseResult.month, GseResult.id.desc())
    )
    newest: dict[str, GseResult] = {}
    for row in rows:
        newest.setdefault(row.month, row)
    return list(newest.values())


async def gse_advances_of_year(
    session: AsyncSession, community_id: int, year: int
) -> list[GseAdvance]:
    rows = await session.scalars(
        select(GseAdvance).where(
            GseAdvance.community_id == community_id, GseAdvance.month.like(f"{year:04d}-%")
        )
    )
    return list(rows)


async def platform_run_of_month(
    session: AsyncSession, community_id: int, period: str
) -> SettlementRun | None:
    """The approved (FINAL) run of a month, else its latest completed run."""
    return await final_run(session, community_id, period) or await latest_completed_run(
        session, community_id, period
    )


async def true_up_run(
    session: AsyncSession, community_id: int, year: int, fingerprint: str | None = None
) -> SettlementRun | None:
    query = select(SettlementRun).where(
        SettlementRun.community_id == community_id,
        SettlementRun.period == f"{year:04d}",
        SettlementRun.kind == "ADJUSTMENT",
    )
    if fingerprint is not None:
        query = query.where(SettlementRun.inputs_fingerprint == fingerprint)
    found: SettlementRun | None = await session.scalar(
        query.order_by(SettlementRun.id.desc()).limit(1)
    )
    return found
