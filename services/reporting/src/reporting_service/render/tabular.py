"""CSV and XLSX renderings: the same tables, as numbers a spreadsheet can add up."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font

from reporting_service.render.document import Cell, Document, Energy, Money, Percent


def _plain(cell: Cell) -> str | int | Decimal | date | None:
    """Money as euro with two decimals, energy as kWh with three: exact decimals."""
    if isinstance(cell, Money):
        return cell.eur.quantize(Decimal("0.01"))
    if isinstance(cell, Energy):
        return cell.kwh.quantize(Decimal("0.001"))
    if isinstance(cell, Percent):
        return cell.value
    return cell


def csv_bytes(document: Document) -> bytes:
    """One block per table: its title, its header, its rows, its total; a blank
    line between blocks. Decimal point, UTF-8 with BOM (spreadsheets guess it)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([document.title, document.subtitle])
    for section in document.sections:
        for table in section.tables:
            writer.writerow([])
            writer.writerow([f"# {table.key}", table.title])
            writer.writerow(table.columns)
            for row in table.rows:
                writer.writerow([_csv(c) for c in row])
            if table.total is not None:
                writer.writerow([_csv(c) for c in table.total])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv(cell: Cell) -> str:
    value = _plain(cell)
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


_FORMATS = {Money: "#,##0.00 [$€-x-euro2]", Energy: "#,##0.000", Percent: "0.0"}


def xlsx_bytes(document: Document) -> bytes:
    """One sheet per table (its key as name); numbers as numbers with formats."""
    book = Workbook()
    for default in list(book.worksheets):  # the empty sheet a new workbook starts with
        book.remove(default)
    bold = Font(bold=True)
    for section in document.sections:
        for table in section.tables:
            sheet = book.create_sheet(table.key[:31])
            sheet.append([table.title])
            sheet["A1"].font = bold
            sheet.append(table.columns)
            for cell in sheet[2]:
                cell.font = bold
            rows = list(table.rows) + ([table.total] if table.total is not None else [])
            for r, row in enumerate(rows, start=3):
                for c, value in enumerate(row, start=1):
                    target = sheet.cell(row=r, column=c, value=_xlsx(value))
                    number_format = _FORMATS.get(type(value))
                    if number_format:
                        target.number_format = number_format
                    if table.total is not None and r == len(rows) + 2:
                        target.font = bold
            for c, name in enumerate(table.columns, start=1):
                sheet.column_dimensions[sheet.cell(row=2, column=c).column_letter].width = max(
                    12, min(40, len(name) + 2)
                )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx(cell: Cell) -> str | int | Decimal | datetime | date | None:
    value = _plain(cell)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones: local time as written
    return value
