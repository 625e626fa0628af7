"""The PDF rendering: an HTML template (jinja2) with the charts as SVG, laid
out by weasyprint in the system's fonts."""

from __future__ import annotations

import base64
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from reporting_service.render import charts
from reporting_service.render.document import Document, Energy, Money, Percent, Table
from reporting_service.render.i18n import show


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("reporting_service", "templates"),
        autoescape=select_autoescape(["html"]),
    )


def _align(table: Table) -> list[str]:
    sample = table.total or (table.rows[0] if table.rows else [])
    return [
        "num" if isinstance(cell, Money | Energy | Percent | int) else "" for cell in sample
    ] + [""] * (len(table.columns) - len(sample))


# Longer tables are set as lines of fixed-width text: weasyprint lays out a
# table cell by cell (a 1,000-member table took ~4 s of a 7 s report), a line
# in one go (~0.5 s for the same rows). Short tables stay tables.
LISTING_ROWS = 60


def _listing(table: Table, language: str, align: list[str]) -> dict[str, Any]:
    rows = [[show(c, language) for c in row] for row in table.rows]
    total = [show(c, language) for c in table.total] if table.total is not None else None
    every = rows + ([total] if total else [])
    widths = []
    for i, column in enumerate(table.columns):
        longest_word = max((len(w) for w in column.split()), default=0)
        widths.append(max([longest_word, *(len(r[i]) for r in every)]) + 2)

    def line(cells: list[str]) -> str:
        return "".join(
            cell.rjust(width) if align[i] == "num" else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return {
        "title": table.title,
        "columns": table.columns,
        "align": align,
        "widths": widths,
        "lines": [line(r) for r in rows],
        "total_line": line(total) if total else None,
    }


def html(document: Document) -> str:
    language = document.language
    sections: list[dict[str, Any]] = []
    for section in document.sections:
        sections.append(
            {
                "title": section.title,
                "facts": [
                    (label, show(value, language) + (" kWh" if isinstance(value, Energy) else ""))
                    for label, value in section.facts
                ],
                "notes": section.notes,
                "charts": [
                    "data:image/svg+xml;base64,"
                    + base64.b64encode(charts.svg(chart).encode()).decode()
                    for chart in section.charts
                ],
                "tables": [
                    _listing(table, language, _align(table))
                    if len(table.rows) > LISTING_ROWS
                    else {
                        "title": table.title,
                        "columns": table.columns,
                        "align": _align(table),
                        "rows": [[show(c, language) for c in row] for row in table.rows],
                        "total": [show(c, language) for c in table.total]
                        if table.total is not None
                        else None,
                    }
                    for table in section.tables
                ],
            }
        )
    return _environment().get_template("report.html").render(doc=document, sections=sections)


def pdf_bytes(document: Document) -> bytes:
    from weasyprint import HTML

    rendered: bytes = HTML(string=html(document)).write_pdf()
    return rendered
