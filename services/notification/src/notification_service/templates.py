"""Render a notification in its reader's language: subject, text and HTML.

The words are in messages.py; the layouts (templates/mail.txt, mail.html)
wrap them. Figures are formatted by babel in the reader's locale: 1.234,56 €
for an Italian reader, €1,234.56 for an English one; times in Italian civil
time, as the platform's calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from cerc_shared.clock import ITALY
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from notification_service.messages import DIGEST, LANGUAGES, MESSAGES, ROLES

LOCALES = {"it": "it_IT", "en": "en_GB"}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _locale(language: str) -> str:
    return LOCALES.get(language, LOCALES["it"])


def _environment(language: str, *, autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("notification_service", "templates"),
        undefined=StrictUndefined,
        # The text part and subjects are plain text (escaping would show &amp;); HTML escapes.
        autoescape=select_autoescape(["html"]) if autoescape else False,  # noqa: S701
        keep_trailing_newline=True,
    )
    locale = _locale(language)
    # Money arrives as a decimal string (never a float): Decimal keeps every cent.
    env.filters["euro"] = lambda v: format_currency(Decimal(str(v)), "EUR", locale=locale)
    env.filters["number"] = lambda v: format_decimal(Decimal(str(v)), locale=locale)
    env.filters["day"] = lambda v: format_date(_as_date(v), format="long", locale=locale)
    env.filters["role"] = lambda v: ROLES.get(language, ROLES["it"]).get(str(v), str(v).lower())
    env.filters["moment"] = lambda v: format_datetime(
        _as_datetime(v).astimezone(ITALY), format="d MMMM y, HH:mm", locale=locale
    )
    return env


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def render(
    kind: str,
    language: str,
    params: dict[str, Any],
    *,
    unsubscribe_url: str | None,
    items: list[str] | None = None,
) -> Rendered:
    """The mail of ``kind`` for a reader of ``language`` (Italian if we have no such words)."""
    language = language if language in LANGUAGES else "it"
    subject_src, body_src = DIGEST[language] if kind == "digest" else MESSAGES[kind][language]
    plain = _environment(language, autoescape=False)
    subject = plain.from_string(subject_src).render(params).strip()
    body = plain.from_string(body_src).render(params)
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
    context = {
        "language": language,
        "subject": subject,
        "paragraphs": paragraphs,
        "items": items or [],
        "unsubscribe_url": unsubscribe_url,
    }
    text = plain.get_template("mail.txt").render(context)
    html = _environment(language, autoescape=True).get_template("mail.html").render(context)
    return Rendered(subject=subject, text=text, html=html)
