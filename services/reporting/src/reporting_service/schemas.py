from __future__ import annotations

from datetime import datetime
from typing import Literal

from cerc_shared.ids import MAX_BIGINT
from pydantic import BaseModel, ConfigDict, Field


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["MONTHLY_COMMUNITY", "MEMBER_STATEMENT", "ANNUAL"]
    community_id: int = Field(ge=1, le=MAX_BIGINT)
    period: str = Field(
        pattern=r"^\d{4}(-(0[1-9]|1[0-2]))?$",
        description="YYYY-MM (monthly report, a month's statement) or YYYY (annual, a year's)",
        examples=["2025-06"],
    )
    format: Literal["PDF", "CSV", "XLSX"] = "PDF"
    language: Literal["it", "en"] = "it"
    member_user_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_BIGINT,
        description="a statement's member (an admin's request); by default the caller",
    )


class ReportOut(BaseModel):
    id: int
    kind: str
    community_id: int
    period: str
    format: str
    language: str
    member_user_id: int | None
    requested_by: int
    status: str
    progress: int
    error: str | None
    filename: str | None
    content_type: str | None
    size_bytes: int | None
    sha256: str | None
    download: str | None
    created_at: datetime
    finished_at: datetime | None
