"""What a person can be told of: each kind once, with the facts of its policy.

``security``: about the account itself; always mailed, never suppressible,
no unsubscribe link. ``transactional``: mailed to an address that has no
account here yet (an invitation): no preferences apply and there is nothing to
unsubscribe from. ``noisy``: may repeat many times a day (a device that
flaps); past a few mails a day the rest go into a daily digest.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    security: bool = False
    transactional: bool = False
    noisy: bool = False

    @property
    def optional(self) -> bool:
        """Whether a person may turn it off (and a mail carries an unsubscribe link)."""
        return not (self.security or self.transactional)


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("security.email_changed", security=True),
        Kind("security.password_changed", security=True),
        Kind("security.two_factor_enabled", security=True),
        Kind("security.two_factor_disabled", security=True),
        Kind("security.new_session", security=True),
        Kind("invitation.received", transactional=True),
        Kind("membership.started"),
        Kind("device.offline", noisy=True),
        Kind("device.online", noisy=True),
        Kind("settlement.awaiting_approval"),
        Kind("settlement.failed"),
        Kind("settlement.approved"),
        Kind("payout.sent"),
        Kind("payout.left_out"),
        Kind("payout.paid"),
        Kind("payout.failed"),
        Kind("reconciliation.mismatch"),
        # The day's held notices of noisy kinds, in one mail (digest.py).
        Kind("digest", transactional=True),
    )
}
