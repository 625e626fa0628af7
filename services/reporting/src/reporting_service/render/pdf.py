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


def html(document: Document) -> str:
    language = document.language
    sections: list[dict[str, Any]] = []
    for section in document.sections:
        sections.append(
            {
                "title": section.title,
                "facts": [(label, show(value, language)) for label, value in section.facts],
                "notes": section.notes,
                "charts": [
                    "data:image/svg+xml;base64,"
                    + base64.b64encode(charts.svg(chart).encode()).decode()
                    for chart in section.charts
                ],
                "tables": [
                    {
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
