"""Events of the economic service: ``settlement.v1`` (keyed by community id, so
a community's runs keep their order), ``transaction.v1`` (keyed by community
id too: a community's books in order), ``payout.v1`` (a community's payout
batches and the bank's answer per transfer, keyed by community id) and
``reconciliation.v1`` (what the GSE said or paid against what the platform
computed, keyed by community id). Money is whole euro cents."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from cerc_shared.events.base import Event

RunKind = Literal["ESTIMATE", "PROVISIONAL", "FINAL", "ADJUSTMENT"]
TransactionKind = Literal["GSE_PAYMENT", "BENEFIT_DISTRIBUTION", "FEE", "ADJUSTMENT"]
TransactionStatus = Literal["PENDING", "PROCESSED", "FAILED"]


class MemberAmount(BaseModel):
    """What one member earned in an approved run, as producer and as consumer."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    as_producer_cents: int
    as_consumer_cents: int


class _SettlementFacts(Event):
    topic: ClassVar[str] = "settlement.v1"
    run_id: int
    community_id: int
    period: str  # YYYY-MM
    kind: RunKind

    def key(self) -> str:
        return str(self.community_id)


class SettlementComputed(_SettlementFacts):
    """A run finished: COMPLETED with its totals, or FAILED (totals None)."""

    type: Literal["settlement.computed"] = "settlement.computed"
    version: Literal[1] = 1
    status: Literal["COMPLETED", "FAILED"]
    total_cents: int | None
    community_cents: int | None
    inputs_fingerprint: str | None
    # A FAILED run's reasons, as codes (e.g. official_data_incomplete).
    error_codes: list[str] = Field(default_factory=list)


class SettlementApproved(_SettlementFacts):
    """A PROVISIONAL run approved: the FINAL run and what each member is owed."""

    type: Literal["settlement.approved"] = "settlement.approved"
    version: Literal[1] = 1
    approves_run_id: int
    approved_by: int
    total_cents: int
    community_cents: int
    members: list[MemberAmount]


class _TransactionFacts(Event):
    topic: ClassVar[str] = "transaction.v1"
    transaction_id: int
    community_id: int
    kind: TransactionKind
    status: TransactionStatus
    amount_cents: int
    user_id: int | None

    def key(self) -> str:
        return str(self.community_id)


class TransactionCreated(_TransactionFacts):
    type: Literal["transaction.created"] = "transaction.created"
    version: Literal[1] = 1


class TransactionSettled(_TransactionFacts):
    """PROCESSED (posted to the books) or FAILED."""

    type: Literal["transaction.settled"] = "transaction.settled"
    version: Literal[1] = 1


PayoutLeftOutReason = Literal["NO_VALID_IBAN", "BELOW_MINIMUM"]


class PayoutTransfer(BaseModel):
    """One credit transfer of a batch, to one member."""

    model_config = ConfigDict(frozen=True)

    transfer_id: int
    user_id: int
    amount_cents: int


class PayoutLeftOut(BaseModel):
    """A member owed money but not paid in this batch, and why (it stays owed)."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    amount_cents: int
    reason: PayoutLeftOutReason


class _PayoutFacts(Event):
    topic: ClassVar[str] = "payout.v1"
    payout_id: int
    community_id: int

    def key(self) -> str:
        return str(self.community_id)


class PayoutCreated(_PayoutFacts):
    """A batch created by a community admin: its SEPA file is ready to download."""

    type: Literal["payout.created"] = "payout.created"
    version: Literal[1] = 1
    created_by: int
    total_cents: int
    transfers: list[PayoutTransfer]
    left_out: list[PayoutLeftOut]


class PayoutTransferProcessed(_PayoutFacts):
    """The bank's status report says the transfer was executed: the member is paid."""

    type: Literal["payout.transfer_processed"] = "payout.transfer_processed"
    version: Literal[1] = 1
    transfer_id: int
    user_id: int
    amount_cents: int


class PayoutTransferFailed(_PayoutFacts):
    """The bank rejected the transfer: the amount is owed to the member again."""

    type: Literal["payout.transfer_failed"] = "payout.transfer_failed"
    version: Literal[1] = 1
    transfer_id: int
    user_id: int
    amount_cents: int
    reason: str


ReconciliationCauseKind = Literal[
    "GSE_MISSING_DATA",
    "DIFFERENT_DATA_SOURCE",
    "PLANT_TREATED_DIFFERENTLY",
    "PARAMETER_DIFFERENCE",
    "ROUNDING",
    "PAYMENT_DIFFERENCE",
    "UNEXPLAINED",
]


class ReconciliationCause(BaseModel):
    """One classified difference: the POD it concerns (None for a whole-community
    cause such as a parameter or a payment) and its share of the difference."""

    model_config = ConfigDict(frozen=True)

    cause: ReconciliationCauseKind
    pod: str | None
    difference_cents: int


class ReconciliationMismatch(Event):
    """The GSE's figures or payments for a month differ from the platform's
    beyond the tolerance; ``difference_cents`` is GSE minus platform, so a
    negative figure means the GSE recognises less than we computed."""

    topic: ClassVar[str] = "reconciliation.v1"
    type: Literal["reconciliation.mismatch"] = "reconciliation.mismatch"
    version: Literal[1] = 1
    community_id: int
    period: str  # YYYY-MM
    run_id: int | None
    difference_cents: int
    tolerance_cents: int
    causes: list[ReconciliationCause]

    def key(self) -> str:
        return str(self.community_id)


ECONOMIC_EVENTS: tuple[type[Event], ...] = (
    SettlementComputed,
    SettlementApproved,
    TransactionCreated,
    TransactionSettled,
    PayoutCreated,
    PayoutTransferProcessed,
    PayoutTransferFailed,
    ReconciliationMismatch,
)
