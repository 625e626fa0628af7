"""Events of the user service (topic ``user.v1``, keyed by user id)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from cerc_shared.events.base import Event

UserType = Literal["PRIVATE", "BUSINESS", "ADMIN"]


class _UserFacts(Event):
    topic: ClassVar[str] = "user.v1"
    user_id: int
    username: str
    email: str
    first_name: str
    last_name: str
    user_type: UserType
    is_active: bool

    def key(self) -> str:
        return str(self.user_id)


class UserRegistered(_UserFacts):
    type: Literal["user.registered"] = "user.registered"
    version: Literal[1] = 1


class UserUpdated(_UserFacts):
    type: Literal["user.updated"] = "user.updated"
    version: Literal[1] = 1
    changed: list[str] = Field(default_factory=list)
