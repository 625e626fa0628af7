"""The words and figures of a mail, in both languages (no servers needed)."""

from __future__ import annotations

from notification_service.messages import MESSAGES
from notification_service.templates import render

PARAMS = {
    "first_name": "Giulia",
    "period": "2026-03",
    "community_name": "CER <Sole> & Vento",
    "amount_eur": "1234.56",
    "producer_eur": "1000.00",
    "consumer_eur": "234.56",
}


def test_italian_reader_sees_italian_words_and_euros() -> None:
    mail = render("settlement.approved", "it", PARAMS, unsubscribe_url="https://x/u?t=1")
    assert mail.subject == "Ripartizione di 2026-03 approvata: 1.234,56\xa0€"
    assert "Ti spettano 1.234,56\xa0€: 1.000,00\xa0€ come produttore e 234,56\xa0€" in mail.text
    assert "1.234,56\xa0€" in mail.html
    assert "Non vuoi più ricevere questi avvisi per e-mail? https://x/u?t=1" in mail.text


def test_english_reader_sees_english_words_and_euros() -> None:
    mail = render("settlement.approved", "en", PARAMS, unsubscribe_url="https://x/u?t=1")
    assert mail.subject == "Settlement of 2026-03 approved: €1,234.56"
    assert "You earn €1,234.56: €1,000.00 as producer and €234.56 as consumer" in mail.text
    assert 'lang="en"' in mail.html


def test_html_part_escapes_what_people_typed() -> None:
    mail = render("settlement.approved", "it", PARAMS, unsubscribe_url=None)
    assert "CER &lt;Sole&gt; &amp; Vento" in mail.html
    assert "<Sole>" not in mail.html
    # The text part is plain text: no escaping there.
    assert "CER <Sole> & Vento" in mail.text


def test_dates_and_times_in_the_readers_locale_and_italian_time() -> None:
    params = {
        "first_name": "Ann",
        "device_id": "shelly-1",
        "plant_name": "Tetto",
        "since": "2026-07-01T22:30:00+00:00",
    }
    it = render("device.offline", "it", params, unsubscribe_url=None)
    en = render("device.offline", "en", params, unsubscribe_url=None)
    # 22:30 UTC is 00:30 of the next day in Italy (summer time).
    assert "2 luglio 2026, 00:30" in it.text
    assert "2 July 2026, 00:30" in en.text


def test_no_unsubscribe_link_when_none_is_given() -> None:
    mail = render(
        "security.email_changed",
        "it",
        {"first_name": "G", "new_email": "a@b.it", "occurred_at": "2026-01-01T10:00:00+00:00"},
        unsubscribe_url=None,
    )
    assert "Non vuoi più" not in mail.text
    assert "Non ricevere più" not in mail.html


def test_every_kind_has_both_languages() -> None:
    assert all(set(words) == {"it", "en"} for words in MESSAGES.values())


def test_every_kind_renders_in_both_languages_with_the_params_its_rule_gives() -> None:
    """StrictUndefined: a template naming a fact its rule does not give fails here."""
    common = {
        "first_name": "G",
        "occurred_at": "2026-01-01T10:00:00+00:00",
        "public_url": "https://cer.example",
        "community_id": 7,
        "community_name": "CER Demo",
        "period": "2026-03",
        "run_id": 3,
        "run_kind": "PROVISIONAL",
    }
    extra = {
        "security.email_changed": {"new_email": "a@b.it"},
        "security.new_session": {"address": "203.0.113.9", "user_agent": "Firefox"},
        "invitation.received": {
            "role": "MEMBER",
            "accept_path": "/invitations/accept?token=abc",
            "expires_at": "2026-01-08T10:00:00+00:00",
        },
        "membership.started": {"role": "ADMIN", "valid_from": "2026-01-01"},
        "device.offline": {"device_id": "d1", "plant_name": "Tetto", "since": "2026-01-01T09:00Z"},
        "device.online": {"device_id": "d1", "plant_name": "Tetto", "since": "2026-01-01T09:00Z"},
        "settlement.awaiting_approval": {"total_eur": "10.00", "community_eur": "1.00"},
        "settlement.failed": {"official_data_missing": True, "error_codes": "x"},
        "payout.sent": {"amount_eur": "12.30"},
        "payout.left_out": {"amount_eur": "3.00", "reason": "BELOW_MINIMUM"},
        "payout.paid": {"amount_eur": "12.30"},
        "payout.failed": {"amount_eur": "12.30", "reason": "AC04"},
        "reconciliation.mismatch": {
            "difference_eur": "-5.00",
            "tolerance_eur": "1.00",
            "causes": "GSE_MISSING_DATA IT001E1: -5.00 €",
        },
        "settlement.approved": {
            k: PARAMS[k] for k in ("amount_eur", "producer_eur", "consumer_eur")
        },
    }
    for kind in MESSAGES:
        for language in ("it", "en"):
            mail = render(kind, language, {**common, **extra.get(kind, {})}, unsubscribe_url=None)
            assert mail.subject and mail.text.strip()
    invitation = render(
        "invitation.received",
        "it",
        {**common, **extra["invitation.received"]},
        unsubscribe_url=None,
    )
    assert "https://cer.example/invitations/accept?token=abc" in invitation.text
    missing = render(
        "settlement.failed", "en", {**common, **extra["settlement.failed"]}, unsubscribe_url=None
    )
    assert "official data for 2026-03" in missing.text
