"""The base of every event: a frozen model naming its topic and key."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    topic: ClassVar[str]
    type: str
    version: int

    def key(self) -> str:
        raise NotImplementedError
