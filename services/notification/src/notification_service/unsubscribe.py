"""Signed one-click unsubscribe links: a person and a kind, signed with the
service's key, so the link works without logging in and cannot be forged
for someone else."""

from __future__ import annotations

import base64
import hashlib
import hmac


def _sign(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def token(secret: str, user_id: int, kind: str) -> str:
    payload = f"{user_id}:{kind}"
    return f"{payload}:{_sign(secret, payload)}"


def verify(secret: str, value: str) -> tuple[int, str] | None:
    """The (user id, kind) a token was made for; None if it was not made by us."""
    payload, _, signature = value.rpartition(":")
    user_id, _, kind = payload.partition(":")
    if not user_id.isdigit() or not kind:
        return None
    if not hmac.compare_digest(_sign(secret, payload), signature):
        return None
    return int(user_id), kind
