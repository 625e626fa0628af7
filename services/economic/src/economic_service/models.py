"""The economic service's tables (schema ``economic``).

* the registry read model (communities, shares by date, plants and their
  stays, memberships), kept from cer.v1, plant.v1 and membership.v1;
* market prices as imported, the hourly zonal prices settlements use, their corrections;
* the dated rule parameters a platform admin may extend;
* the hours of each run per substation;
* settlement runs, immutable once computed, with their members' results;
* the books: accounts per community, journal entries whose postings sum to
  zero (checked by the database at commit), transactions, and the audit log.

Money is whole euro cents (BIGINT) everywhere; energy in Wh.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cerc_shared.consumer import define_processed_events
from cerc_shared.db import service_metadata
from cerc_shared.outbox import define_outbox
from cerc_shared.readmodels import RegistryReadModel
from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = service_metadata()


registry = RegistryReadModel(Base.metadata)
outbox = define_outbox(Base.metadata)
processed_events = define_processed_events(Base.metadata)


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class PriceImport(Base):
    """One file of the market operator's prices as loaded (a ZIP of daily XML files or one XML).

    The same bytes again are recognised by ``sha256`` and change nothing."""

    __tablename__ = "price_imports"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    imported_by: Mapped[int] = mapped_column(BigInteger, nullable=False)
    imported_at: Mapped[datetime] = _now()
    first_day: Mapped[date] = mapped_column(Date, nullable=False)
    last_day: Mapped[date] = mapped_column(Date, nullable=False)
    days: Mapped[int] = mapped_column(Integer, nullable=False)
    market_prices: Mapped[int] = mapped_column(Integer, nullable=False)
    hourly_added: Mapped[int] = mapped_column(Integer, nullable=False)
    hourly_superseded: Mapped[int] = mapped_column(Integer, nullable=False)


class MarketPrice(Base):
    """A zone's price as the market operator published it, per hour (``Prezzi``) or per
    quarter hour (``Prezzi15``, from October 2025); the rules' hourly Pz is in ZonalPrice."""

    __tablename__ = "market_prices"
    zone: Mapped[str] = mapped_column(String(10), primary_key=True)
    start_utc: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    minutes: Mapped[int] = mapped_column(Integer, primary_key=True)
    eur_mwh: Mapped[Decimal] = mapped_column(Numeric(12, 6), nullable=False)
    import_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("price_imports.id"), nullable=False
    )


class ZonalPrice(Base):
    """The hourly zonal price Pz (€/MWh) of a market zone, for the hour starting at
    ``hour_utc``: what settlements use. ``source`` says whether it is the published hourly
    price or the mean of the hour's four quarter prices (cacer.market_prices)."""

    __tablename__ = "zonal_prices"
    zone: Mapped[str] = mapped_column(String(10), primary_key=True)
    hour_utc: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    eur_mwh: Mapped[Decimal] = mapped_column(Numeric(12, 6), nullable=False)
    source: Mapped[str] = mapped_column(String(40), nullable=False)
    import_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("price_imports.id"))


class PriceRevision(Base):
    """A price replaced by a later import (a correction): the old value and who replaced it."""

    __tablename__ = "price_revisions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # "zonal" (the rules' hourly Pz) or "market" (a published price, hourly or quarter hour)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    zone: Mapped[str] = mapped_column(String(10), nullable=False)
    start_utc: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    old_eur_mwh: Mapped[Decimal] = mapped_column(Numeric(12, 6), nullable=False)
    new_eur_mwh: Mapped[Decimal] = mapped_column(Numeric(12, 6), nullable=False)
    old_import_id: Mapped[int | None] = mapped_column(BigInteger)
    import_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("price_imports.id"), nullable=False
    )

    __table_args__ = (Index("ix_price_revisions_zone", "zone", "start_utc"),)


class RuleParameter(Base):
    """A dated rule parameter a platform admin added over the engine's built-in table:
    ``trase_eur_mwh`` (key "", from 1 January of its year), ``max_eligible_cost_eur_per_kw``
    (key: the power class's upper bound in kW). Every change is in the audit log."""

    __tablename__ = "rule_parameters"
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    key: Mapped[str] = mapped_column(String(20), primary_key=True)
    valid_from: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[Decimal] = mapped_column(Numeric(14, 6), nullable=False)
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    set_by: Mapped[int] = mapped_column(BigInteger, nullable=False)
    set_at: Mapped[datetime] = _now()


class SettlementHour(Base):
    """A completed run's hour of one primary substation, as the engine computed it (Wh)."""

    __tablename__ = "settlement_hours"
    run_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("settlement_runs.id"), primary_key=True
    )
    substation: Mapped[str] = mapped_column(String(40), primary_key=True)
    hour_utc: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    fed_in_wh: Mapped[int] = mapped_column(BigInteger, nullable=False)
    withdrawn_wh: Mapped[int] = mapped_column(BigInteger, nullable=False)
    shared_wh: Mapped[int] = mapped_column(BigInteger, nullable=False)
    incentivised_wh: Mapped[int] = mapped_column(BigInteger, nullable=False)


class SettlementRun(Base):
    """One settlement of a community month. QUEUED -> RUNNING -> COMPLETED or
    FAILED; once COMPLETED nothing in it changes. A FINAL run is a new row
    copying the PROVISIONAL it approves (``approves_run_id``)."""

    __tablename__ = "settlement_runs"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    period: Mapped[str] = mapped_column(String(7), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    requested_by: Mapped[int] = mapped_column(BigInteger, nullable=False)
    previous_run_id: Mapped[int | None] = mapped_column(BigInteger)
    approves_run_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    inputs_fingerprint: Mapped[str | None] = mapped_column(String(64))
    coverage: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    engine_version: Mapped[str | None] = mapped_column(String(40))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    difference: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    errors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    total_cents: Mapped[int | None] = mapped_column(BigInteger)
    community_cents: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = _now()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_settlement_runs_community_id", "community_id", "period"),
        Index("ix_settlement_runs_queued", "id", postgresql_where=text("status = 'QUEUED'")),
        # One FINAL run per community month: an approval retried finds it.
        Index(
            "uq_settlement_runs_final",
            "community_id",
            "period",
            unique=True,
            postgresql_where=text("kind = 'FINAL'"),
        ),
    )


class MemberResult(Base):
    """A member's part of a completed run (the engine's ``members[]``)."""

    __tablename__ = "member_results"
    run_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("settlement_runs.id"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    producer_shared_wh: Mapped[int] = mapped_column(BigInteger, nullable=False)
    contribution_wh: Mapped[int] = mapped_column(BigInteger, nullable=False)
    as_producer_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    as_consumer_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cents: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (Index("ix_member_results_user_id", "user_id"),)


class Account(Base):
    """A ledger account of one community: GSE_RECEIVABLE, BANK, COMMUNITY_FUND,
    FEES, or MEMBER_PAYABLE of one member."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    # 0 for the community's own accounts: a unique key needs no NULL.
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    created_at: Mapped[datetime] = _now()

    __table_args__ = (UniqueConstraint("community_id", "kind", "user_id"),)


class JournalEntry(Base):
    """A balanced set of postings; ``idempotency_key`` makes a retried posting a no-op."""

    __tablename__ = "journal_entries"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    description: Mapped[str] = mapped_column(String(500), nullable=False)
    settlement_run_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = _now()


class Posting(Base):
    """One line of an entry: positive debits, negative credits, in cents."""

    __tablename__ = "postings"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("journal_entries.id"), nullable=False
    )
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"), nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (
        Index("ix_postings_entry_id", "entry_id"),
        Index("ix_postings_account_id", "account_id"),
    )


class Transaction(Base):
    """A movement of money as the specification lists them: GSE_PAYMENT,
    BENEFIT_DISTRIBUTION, FEE, ADJUSTMENT; PENDING -> PROCESSED (posted) or FAILED."""

    __tablename__ = "transactions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    payment_method: Mapped[str | None] = mapped_column(String(40))
    reference: Mapped[str | None] = mapped_column(String(140))
    description: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    entry_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("journal_entries.id"))
    created_by: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = _now()
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_transactions_community_id", "community_id", "id"),)


class AuditRecord(Base):
    """Who did what to the books or the parameters, append-only."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    action: Mapped[str] = mapped_column(String(60), nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    at: Mapped[datetime] = _now()


class PayoutAccount(Base):
    """The community's bank account payouts are paid from (the SEPA debtor) and the
    minimum a member is paid (smaller amounts are carried forward), set by its admins."""

    __tablename__ = "payout_accounts"
    community_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    debtor_name: Mapped[str] = mapped_column(String(70), nullable=False)
    iban: Mapped[str] = mapped_column(String(34), nullable=False)
    bic: Mapped[str | None] = mapped_column(String(11))
    minimum_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_by: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[datetime] = _now()


class Payout(Base):
    """A batch of SEPA credit transfers of members' approved, unpaid balances. CREATED
    with its pain.001 file; COMPLETED once the bank has answered for every transfer."""

    __tablename__ = "payouts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    message_id: Mapped[str] = mapped_column(String(35), nullable=False, unique=True)
    execution_date: Mapped[date] = mapped_column(nullable=False)
    total_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    debtor_iban: Mapped[str] = mapped_column(String(34), nullable=False)
    # Members owed money but not paid in this batch: [{user_id, amount_cents, reason}].
    left_out: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    file: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    file_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    entry_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("journal_entries.id"))
    created_by: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = _now()

    __table_args__ = (Index("ix_payouts_community_id", "community_id", "id"),)


class PayoutTransfer(Base):
    """One member's transfer in a batch: PENDING until the bank's status report says
    PROCESSED (paid) or FAILED (the amount owed to the member again)."""

    __tablename__ = "payout_transfers"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    payout_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("payouts.id"), nullable=False)
    community_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    creditor_name: Mapped[str] = mapped_column(String(140), nullable=False)
    # The IBAN itself is in the file; the row keeps only what identifies it to a person.
    iban_last4: Mapped[str] = mapped_column(String(4), nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    end_to_end_id: Mapped[str] = mapped_column(String(35), nullable=False, unique=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(300))
    entry_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("journal_entries.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_payout_transfers_payout_id", "payout_id"),
        Index("ix_payout_transfers_user_id", "community_id", "user_id"),
    )


class ManagementFee(Base):
    """The community's management fee from ``valid_from`` on: a PERCENT of each member's
    approved amount, or a FIXED amount per member (never more than the member's amount),
    deducted when an approved month is posted."""

    __tablename__ = "management_fees"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    valid_from: Mapped[date] = mapped_column(nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    fixed_cents: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = _now()

    __table_args__ = (UniqueConstraint("community_id", "valid_from"),)


__all__ = ["Base", "date", "outbox", "processed_events", "registry"]


# ------------------------------------------------------------------ the GSE loop


class GseCredential(Base):
    """A community's OAuth client at the GSE, set by its ADMIN; the secret is
    sealed with the service's field key (cerc_shared.crypto), never stored clear."""

    __tablename__ = "gse_credentials"
    community_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), nullable=False)
    client_secret_sealed: Mapped[str] = mapped_column(String(500), nullable=False)
    # The GSE's id of the community's configuration, once registered.
    configuration_id: Mapped[str | None] = mapped_column(String(40))
    updated_by: Mapped[int] = mapped_column(BigInteger, nullable=False)
    updated_at: Mapped[datetime] = _now()


class GsePlant(Base):
    """A POD as the GSE registered it (its id, e.g. GSE-PLT-000001)."""

    __tablename__ = "gse_plants"
    community_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pod: Mapped[str] = mapped_column(String(20), primary_key=True)
    gse_plant_id: Mapped[str] = mapped_column(String(40), nullable=False)
    eligibility: Mapped[str | None] = mapped_column(String(20))
    registered_at: Mapped[datetime] = _now()


class GseSyncJob(Base):
    """One exchange with the GSE: QUEUED -> RUNNING -> COMPLETED or FAILED.
    ``requested_by`` 0: the schedule asked."""

    __tablename__ = "gse_sync_jobs"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    requested_by: Mapped[int] = mapped_column(BigInteger, nullable=False)
    months: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    errors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_gse_sync_jobs_community_id", "community_id", "id"),
        Index("ix_gse_sync_jobs_queued", "id", postgresql_where=text("status = 'QUEUED'")),
    )


class GseResult(Base):
    """A month's figures as the GSE published them (pulled, or imported from its
    file). A new row only when the content changes (a recalculation), so a re-pull
    stores nothing; the newest row of a month is the GSE's current word."""

    __tablename__ = "gse_results"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    month: Mapped[str] = mapped_column(String(7), nullable=False)
    gse_id: Mapped[str] = mapped_column(String(60), nullable=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    content_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str] = mapped_column(String(10), nullable=False)  # API or IMPORT
    document: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    received_at: Mapped[datetime] = _now()

    __table_args__ = (
        UniqueConstraint("community_id", "gse_id", "content_sha256"),
        Index("ix_gse_results_month", "community_id", "month", "id"),
    )


class GseAdvance(Base):
    """A monthly advance per plant as the GSE states it (GSE-ADV-...)."""

    __tablename__ = "gse_advances"
    gse_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    community_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    month: Mapped[str] = mapped_column(String(7), nullable=False)
    pod: Mapped[str] = mapped_column(String(20), nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    due_on: Mapped[date] = mapped_column(Date, nullable=False)

    __table_args__ = (Index("ix_gse_advances_month", "community_id", "month"),)


class ExpectedGsePayment(Base):
    """What the platform expects the GSE to pay: each plant's monthly advance by
    the engine's formula (cacer.advance), due on the last working day of M+1."""

    __tablename__ = "expected_gse_payments"
    community_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    pod: Mapped[str] = mapped_column(String(20), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # ADVANCE
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    due_on: Mapped[date] = mapped_column(Date, nullable=False)


class GsePayment(Base):
    """A payment the GSE made (GSE-PAY-...); its GSE_PAYMENT transaction closes
    the receivable once, whatever the number of pulls."""

    __tablename__ = "gse_payments"
    gse_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    community_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    payment_date: Mapped[date] = mapped_column(Date, nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    source: Mapped[str] = mapped_column(String(10), nullable=False)
    transaction_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("transactions.id"))
    received_at: Mapped[datetime] = _now()

    __table_args__ = (Index("ix_gse_payments_community_id", "community_id", "payment_date"),)


class GseBalance(Base):
    """The GSE's running balance: what it carried over (under the €50 threshold)."""

    __tablename__ = "gse_balances"
    community_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    carried_over_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    pending_items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    last_run_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = _now()


class GseImport(Base):
    """A GSE statement a manager uploaded (figures or payments), whole or not at all."""

    __tablename__ = "gse_imports"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # RESULTS or PAYMENTS
    filename: Mapped[str] = mapped_column(String(200), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    rows: Mapped[int] = mapped_column(Integer, nullable=False)
    created_by: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = _now()


class ReconciliationAlert(Base):
    """A mismatch already announced (reconciliation.v1): one event per GSE
    figures row and platform run, however often the month is pulled."""

    __tablename__ = "reconciliation_alerts"
    community_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    gse_result_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    difference_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = _now()


__all__ = ["Base", "date", "outbox", "processed_events", "registry"]
