"""What a report says, independent of its format.

Cells are typed so each format writes them its way: money as whole cents
(``Money``), energy as whole Wh (``Energy``); a PDF shows them in the reader's
locale ("1.234,56 €"), a CSV as plain numbers, an XLSX as numbers with a
number format, so a spreadsheet can add them up again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class Money:
    cents: int

    @property
    def eur(self) -> Decimal:
        return Decimal(self.cents) / 100


@dataclass(frozen=True)
class Energy:
    wh: int

    @property
    def kwh(self) -> Decimal:
        return Decimal(self.wh) / 1000


@dataclass(frozen=True)
class Percent:
    value: Decimal  # 0..100


Cell = str | int | Money | Energy | Percent | date | datetime | None


@dataclass
class Table:
    key: str  # a short machine name: the CSV block, the XLSX sheet
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    total: list[Cell] | None = None


@dataclass
class Chart:
    title: str
    kind: str  # "bar" (grouped) or "line"
    labels: list[str]
    series: dict[str, list[float]]  # drawing only: the figures are in the tables
    unit: str


@dataclass
class Section:
    title: str
    facts: list[tuple[str, Cell]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


@dataclass
class Document:
    title: str
    subtitle: str
    language: str
    generated_at: datetime
    sections: list[Section]
    footer: str = ""
