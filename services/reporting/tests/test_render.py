"""The renderings without any server: numbers in the reader's locale, and a
long members table (set as fixed-width lines) that loses no member and no cent."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

from openpyxl import load_workbook
from pypdf import PdfReader
from reporting_service.render.document import Energy, Money
from reporting_service.render.formats import render
from reporting_service.render.i18n import money, show
from reporting_service.render.pdf import LISTING_ROWS
from reporting_service.sample import sample_month
from reporting_service.service import compose

NOW = datetime(2025, 7, 3, 9, tzinfo=UTC)


def test_figures_in_the_readers_locale() -> None:
    assert money(123456, "it") == "1.234,56\xa0€"
    assert money(123456, "en") == "€1,234.56"
    assert show(Energy(1234567), "it") == "1.234,567"
    assert show(Money(-5), "it") == "-0,05\xa0€"


def test_a_long_members_table_keeps_every_member_and_cent() -> None:
    members = LISTING_ROWS + 25
    sample = sample_month(777, "2025-03", members, days=2)
    document = compose.monthly_report(
        sample.ctx, "2025-03", "it", sample.energy, {"2025-03": sample.run}, NOW
    )
    text = "\n".join(
        page.extract_text() or ""
        for page in PdfReader(io.BytesIO(render(document, "PDF").data)).pages
    )
    for m in sample.run.members:
        assert f"#{m.user_id}" in text
    lines = [line for line in text.splitlines() if line.strip().startswith("Socio #")]
    assert len(lines) == members
    # Each line ends with the member's total, right-aligned in its column.
    by_user = {m.user_id: m.cents for m in sample.run.members}
    for line in lines:
        user = int(line.split("#")[1].split()[0])
        assert line.rstrip().endswith(money(by_user[user], "it")), line
    assert money(sum(by_user.values()), "it") in text

    book = load_workbook(io.BytesIO(render(document, "XLSX").data))
    total = list(book["members"].iter_rows(min_row=3, values_only=True))[-1]
    assert Decimal(str(total[5])) * 100 == sum(by_user.values())
    assert sum(by_user.values()) + sample.run.community_cents == sample.settlement_total_cents
