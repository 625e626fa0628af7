"""Events of the user service, keyed by user id.

``user.v1`` carries a person's facts (name, e-mail, language): only the
services that write to people or show their names read it (cer,
notification). ``user-status.v1`` carries only whether an account is active:
every service reads it to refuse a deactivated user's tokens
(``cerc_shared.user_status``), without being able to read anyone's e-mail.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from cerc_shared.events.base import Event

UserType = Literal["PRIVATE", "BUSINESS", "ADMIN"]
Language = Literal["it", "en"]
SecurityChange = Literal[
    "password_changed", "two_factor_enabled", "two_factor_disabled", "session_started"
]


class _UserFacts(Event):
    topic: ClassVar[str] = "user.v1"
    user_id: int
    username: str
    email: str
    first_name: str
    last_name: str
    user_type: UserType
    is_active: bool
    # The language the person reads (mails, documents); Italian unless chosen.
    language: Language = "it"

    def key(self) -> str:
        return str(self.user_id)


class UserRegistered(_UserFacts):
    type: Literal["user.registered"] = "user.registered"
    version: Literal[1] = 1


class UserUpdated(_UserFacts):
    type: Literal["user.updated"] = "user.updated"
    version: Literal[1] = 1
    changed: list[str] = Field(default_factory=list)


#: In ``UserUpdated.changed`` when the person had their account erased (GDPR
#: art. 17): the facts are already pseudonymised and the account inactive; a
#: service holding the person's data erases what the law lets it erase.
ACCOUNT_ERASED = "erased"


class AccountSecurityChanged(Event):
    """Something about the account's keys happened: the owner is told at once
    (the notification service), whoever did it. ``session_started`` is every
    sign-in, with the address it came from; the reader decides what is new."""

    topic: ClassVar[str] = "user.v1"
    type: Literal["user.security_changed"] = "user.security_changed"
    version: Literal[1] = 1
    user_id: int
    change: SecurityChange
    # The client's address as the gateway saw it (sign-ins; None otherwise).
    address: str | None = None
    user_agent: str | None = None

    def key(self) -> str:
        return str(self.user_id)


class UserStatusChanged(Event):
    """Whether an account may act: published whenever an account is
    deactivated or reactivated (and again by ``cerc-user publish-statuses`` to
    seed the topic). A new account is active, which every reader assumes."""

    topic: ClassVar[str] = "user-status.v1"
    type: Literal["user.status_changed"] = "user.status_changed"
    version: Literal[1] = 1
    user_id: int
    is_active: bool

    def key(self) -> str:
        return str(self.user_id)
