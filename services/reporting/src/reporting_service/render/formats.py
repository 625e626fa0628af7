"""A document in the format asked for: its bytes, content type and file suffix."""

from __future__ import annotations

from dataclasses import dataclass

from reporting_service.render.document import Document
from reporting_service.render.pdf import pdf_bytes
from reporting_service.render.tabular import csv_bytes, xlsx_bytes

FORMATS = ("PDF", "CSV", "XLSX")


@dataclass(frozen=True)
class Rendered:
    data: bytes
    content_type: str
    suffix: str


def render(document: Document, fmt: str) -> Rendered:
    if fmt == "PDF":
        return Rendered(pdf_bytes(document), "application/pdf", "pdf")
    if fmt == "CSV":
        return Rendered(csv_bytes(document), "text/csv; charset=utf-8", "csv")
    if fmt == "XLSX":
        return Rendered(
            xlsx_bytes(document),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        )
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
