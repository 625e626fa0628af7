"""The words and figures of a mail, in both languages (no servers needed)."""

from __future__ import annotations

from notification_service.messages import MESSAGES
from notification_service.templates import render

PARAMS = {
    "first_name": "Giulia",
    "period": "2026-03",
    "community_name": "CER <Sole> & Vento",
    "amount_eur": "1234.56",
    "shared_kwh": "10250.5",
}


def test_italian_reader_sees_italian_words_and_euros() -> None:
    mail = render("settlement.approved", "it", PARAMS, unsubscribe_url="https://x/u?t=1")
    assert mail.subject == "Ripartizione di 2026-03 approvata: 1.234,56\xa0€"
    assert "Ti spettano 1.234,56\xa0€ per 10.250,5 kWh" in mail.text
    assert "1.234,56\xa0€" in mail.html
    assert "Non vuoi più ricevere questi avvisi per e-mail? https://x/u?t=1" in mail.text


def test_english_reader_sees_english_words_and_euros() -> None:
    mail = render("settlement.approved", "en", PARAMS, unsubscribe_url="https://x/u?t=1")
    assert mail.subject == "Settlement of 2026-03 approved: €1,234.56"
    assert "You earn €1,234.56 for 10,250.5 kWh" in mail.text
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
