"""What a person can be told of: each kind once, with the facts of its policy.

``security``: about the account itself; always mailed, never suppressible,
no unsubscribe link. ``noisy``: may repeat many times a day (a device that
flaps); past a few mails a day the rest go into a daily digest.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    security: bool = False
    noisy: bool = False


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("security.email_changed", security=True),
        Kind("membership.started"),
        Kind("device.offline", noisy=True),
        Kind("device.online", noisy=True),
        # Templates ready; their rules arrive with the economic events.
        Kind("settlement.approved"),
    )
}
