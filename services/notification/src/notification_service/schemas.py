from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class NotificationOut(BaseModel):
    id: int
    kind: str
    params: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class UnreadCount(BaseModel):
    unread: int


class PreferenceOut(BaseModel):
    kind: str
    channel: Literal["email", "inbox"]
    enabled: bool
    locked: bool = Field(description="security notices: always on")


class PreferenceIn(BaseModel):
    kind: str = Field(min_length=1, max_length=60)
    channel: Literal["email", "inbox"]
    enabled: bool


class PreferencesIn(BaseModel):
    preferences: list[PreferenceIn] = Field(min_length=1, max_length=100)


class Unsubscribed(BaseModel):
    kind: str
    channel: Literal["email"] = "email"
    enabled: bool = False
