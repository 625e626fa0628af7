from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from cerc_shared.ids import MAX_BIGINT
from pydantic import BaseModel, ConfigDict, Field


def euros(cents: int | None) -> Decimal | None:
    return None if cents is None else Decimal(cents) / 100


class SettlementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    community_id: int = Field(ge=1, le=MAX_BIGINT)
    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2025-06"])
    kind: Literal["ESTIMATE", "PROVISIONAL", "ADJUSTMENT"] = "ESTIMATE"


class MemberResultOut(BaseModel):
    user_id: int
    producer_shared_kwh: Decimal
    contribution_kwh: Decimal
    as_producer_eur: Decimal
    as_consumer_eur: Decimal
    eur: Decimal


class RunOut(BaseModel):
    id: int
    community_id: int
    period: str
    kind: str
    status: str
    progress: int
    requested_by: int
    previous_run_id: int | None
    approves_run_id: int | None
    inputs_fingerprint: str | None
    coverage: dict[str, Any] | None
    parameters: dict[str, Any] | None
    engine_version: str | None
    total_eur: Decimal | None
    community_eur: Decimal | None
    result: dict[str, Any] | None = None
    members: list[MemberResultOut] = []
    difference: dict[str, Any] | None
    errors: list[dict[str, Any]] | None
    created_at: datetime
    finished_at: datetime | None


class TransactionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    community_id: int = Field(ge=1, le=MAX_BIGINT)
    kind: Literal["GSE_PAYMENT", "BENEFIT_DISTRIBUTION", "FEE", "ADJUSTMENT"]
    amount: Decimal = Field(gt=0, max_digits=14, decimal_places=2, description="euro, 2 decimals")
    user_id: int | None = Field(default=None, ge=1, le=MAX_BIGINT)
    payment_method: str | None = Field(default=None, max_length=40)
    reference: str | None = Field(default=None, max_length=140)
    description: str = Field(default="", max_length=500)


class TransactionStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["PROCESSED", "FAILED"]


class TransactionOut(BaseModel):
    id: int
    community_id: int
    kind: str
    status: str
    amount: Decimal
    user_id: int | None
    payment_method: str | None
    reference: str | None
    description: str
    entry_id: int | None
    created_by: int
    created_at: datetime
    processed_at: datetime | None


class BalanceOut(BaseModel):
    account: str
    user_id: int | None
    balance_eur: Decimal


class BenefitOut(BaseModel):
    community_id: int
    period: str
    run_id: int
    user_id: int
    as_producer_eur: Decimal
    as_consumer_eur: Decimal
    eur: Decimal
    producer_shared_kwh: Decimal
    contribution_kwh: Decimal


class MyBenefitsOut(BaseModel):
    months: list[BenefitOut]
    earned_eur: Decimal
    payable_eur: Decimal
    paid_eur: Decimal


# ------------------------------------------------------------------ payouts


class PayoutAccountIn(BaseModel):
    """The community's account payouts leave from, and the smallest amount paid."""

    model_config = ConfigDict(extra="forbid")
    community_id: int = Field(ge=1, le=MAX_BIGINT)
    debtor_name: str = Field(min_length=1, max_length=70, description="the account holder")
    iban: str = Field(min_length=15, max_length=42, examples=["IT60X0542811101000000123456"])
    bic: str | None = Field(default=None, min_length=8, max_length=11)
    minimum_amount: Decimal = Field(
        default=Decimal("0.00"),
        ge=0,
        max_digits=12,
        decimal_places=2,
        description="euro; members owed less are carried forward to a later payout",
    )


class PayoutAccountOut(BaseModel):
    community_id: int
    debtor_name: str
    iban: str
    bic: str | None
    minimum_amount: Decimal
    updated_by: int
    updated_at: datetime


class PayoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    community_id: int = Field(ge=1, le=MAX_BIGINT)
    execution_date: date | None = Field(
        default=None, description="requested execution date; default: the next day"
    )


class PayoutTransferOut(BaseModel):
    id: int
    user_id: int
    creditor_name: str
    iban_last4: str
    amount: Decimal
    end_to_end_id: str
    status: str
    reason: str | None
    decided_at: datetime | None


class PayoutLeftOutOut(BaseModel):
    user_id: int
    amount: Decimal
    reason: Literal["NO_VALID_IBAN", "BELOW_MINIMUM"]


class PayoutOut(BaseModel):
    id: int
    community_id: int
    status: str
    message_id: str
    execution_date: date
    total: Decimal
    file_sha256: str
    file_url: str
    entry_id: int | None
    created_by: int
    created_at: datetime
    transfers: list[PayoutTransferOut]
    left_out: list[PayoutLeftOutOut]


class StatusReportOut(BaseModel):
    payout: PayoutOut
    processed: int
    failed: int
    still_pending: int
    unchanged: int


# ------------------------------------------------------------------ fees, distribution


class FeeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    community_id: int = Field(ge=1, le=MAX_BIGINT)
    valid_from: date
    kind: Literal["PERCENT", "FIXED_PER_MEMBER"]
    percent: Decimal | None = Field(default=None, ge=0, le=100, max_digits=5, decimal_places=2)
    amount: Decimal | None = Field(
        default=None, gt=0, max_digits=12, decimal_places=2, description="euro per member"
    )


class FeeOut(BaseModel):
    community_id: int
    valid_from: date
    kind: str
    percent: Decimal | None
    amount: Decimal | None
    created_by: int
    created_at: datetime


class DistributeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: int = Field(ge=1, le=MAX_BIGINT)


class DistributedOut(BaseModel):
    run_id: int
    community_id: int
    period: str
    kind: str
    posted_now: bool
    difference_eur: Decimal


# ------------------------------------------------------------------ the GSE loop


class GseCredentialsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    community_id: int = Field(ge=1, le=MAX_BIGINT)
    client_id: str = Field(min_length=3, max_length=100)
    client_secret: str = Field(min_length=8, max_length=200)


class GseCredentialsOut(BaseModel):
    """The secret is never answered: it is sealed at rest and only the worker opens it."""

    community_id: int
    client_id: str
    configuration_id: str | None
    updated_by: int
    updated_at: datetime


class GseSyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    community_id: int = Field(ge=1, le=MAX_BIGINT)
    months: list[str] | None = Field(default=None, examples=[["2025-05", "2025-06"]])


class GseJobOut(BaseModel):
    id: int
    community_id: int
    status: str
    requested_by: int
    months: list[str]
    summary: dict[str, Any] | None
    errors: list[dict[str, Any]] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class GseStatusOut(BaseModel):
    community_id: int
    credentials: GseCredentialsOut | None
    circuit: str
    circuit_failures: int
    jobs: list[GseJobOut]


class GseImportOut(BaseModel):
    kind: str
    rows: int
    new: list[str]
    unchanged: int
