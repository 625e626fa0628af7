"""Signed one-click unsubscribe links: a person and a kind, signed with the
service's key, so the link works without logging in and cannot be forged
for someone else."""

from __future__ import annotations

import base64
import hashlib
import hmac
from html import escape


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


def unsubscribe_html(kind: str, token: str, *, done: bool) -> str:
    """A plain page (no script: the gateway's CSP allows none inline) in both
    languages, since the link carries no reader's language."""
    k = escape(kind)
    if done:
        body = (
            f"<p>Non riceverai più per e-mail gli avvisi <b>{k}</b>; restano nella tua "
            f'casella in CerCollettiva.</p><p lang="en">You will no longer receive '
            f"<b>{k}</b> notices by e-mail; they stay in your CerCollettiva inbox.</p>"
        )
    else:
        body = (
            f"<p>Vuoi smettere di ricevere per e-mail gli avvisi <b>{k}</b>?</p>"
            f'<p lang="en">Stop receiving <b>{k}</b> notices by e-mail?</p>'
            f'<form method="post" action="?token={escape(token)}">'
            '<button type="submit">Conferma / Confirm</button></form>'
        )
    return (
        '<!doctype html><html lang="it"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>CerCollettiva</title></head><body>"
        f"<h1>CerCollettiva</h1>{body}</body></html>"
    )
