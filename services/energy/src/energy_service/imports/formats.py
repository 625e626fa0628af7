"""The distributor's meter files, read into quarter-hour curves (no I/O).

Three layouts, all one POD and one direction (energia immessa = fed-in,
energia prelevata = withdrawn) per curve:

* the monthly quarter-hour CSV: a header ``Giorno;00:00-00:15;...;23:45-00:00``
  then one row per day ``DD/MM/YYYY`` with kWh values with a decimal comma,
  often quoted, often a trailing ``;``. The POD and direction come from the
  file name (``IT001E12345678_202503_immessa.csv``) or the form. Columns are
  *local* (Europe/Rome) intervals: on the 23-hour day the 02:00-03:00 columns
  stay empty; for the 25-hour day the header repeats the four 02:xx columns
  (first the summer-time pass, then the winter-time one), and other days leave
  the repeats empty.
* the XML ``FlussoMisure``: ``DatiPod`` blocks with ``Pod``, ``MeseAnno``
  (``MM/YYYY``), optionally ``Verso`` (``Immessa``/``Prelevata``) and
  ``TipoDato`` (``E`` estimated, ``R`` real), and a ``Curva`` of ``Ea``
  elements, one per day: ``<Ea Giorno="30" CambioOra="S" TipoDato="E">`` with
  children ``E1``...``E96`` (92 or 100 on the daylight-saving days, which
  carry ``CambioOra="S"``), in time order.
* a ZIP of such files.

Every value is placed on the UTC instant that *ends* its interval (the
store's convention). Nothing is thrown away quietly: each problem becomes a
:class:`RowError` naming the file, line, column and what was expected, and
the caller writes nothing while there is one.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Literal
from xml.etree.ElementTree import Element

from cerc_shared.clock import ITALY
from defusedxml import ElementTree as SafeElementTree
from defusedxml.common import DefusedXmlException

QUARTER = timedelta(minutes=15)
Direction = Literal["fed_in", "withdrawn"]
DIRECTIONS: dict[str, Direction] = {"immessa": "fed_in", "prelevata": "withdrawn"}
POD = re.compile(r"IT\d{3}E\d{8}[A-Z]?")
_POD_IN_NAME = re.compile(r"IT\d{3}E\d{8}[A-Z]?(?![0-9])", re.IGNORECASE)
_DIRECTION_IN_NAME = re.compile(r"immessa|prelevata", re.IGNORECASE)
_INTERVAL = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")
_DAY = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
_NUMBER = re.compile(r"\d{1,12}(?:[.,]\d{1,9})?|\d{1,3}(?:\.\d{3})+(?:,\d{1,9})?")
# One file's limits: a month of quarter hours is ~3,000 values; a ZIP of a
# thousand POD-months is large but bounded (a ZIP bomb is refused).
MAX_ZIP_MEMBERS = 5000
MAX_MEMBER_BYTES = 20 * 1024 * 1024
MAX_ERRORS = 200


@dataclass(frozen=True, slots=True)
class RowError:
    file: str
    line: int | None
    column: str | None
    expected: str
    message: str


@dataclass(slots=True)
class Curve:
    """One POD's quarter hours in one direction from one file."""

    file: str
    pod: str
    direction: Direction
    month: date
    # (UTC instant ending the quarter hour, kWh), in time order.
    values: list[tuple[datetime, Decimal]] = field(default_factory=list)
    estimated_days: set[date] = field(default_factory=set)

    @property
    def total_kwh(self) -> Decimal:
        return sum((v for _, v in self.values), Decimal(0))


@dataclass(slots=True)
class Parsed:
    curves: list[Curve] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def error(
        self, file: str, line: int | None, column: str | None, expected: str, message: str
    ) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(file, line, column, expected, message))

    def extend(self, other: Parsed) -> None:
        self.curves.extend(other.curves)
        for e in other.errors:
            self.error(e.file, e.line, e.column, e.expected, e.message)


def quarter_hours(day: date) -> int:
    """How many quarter hours the local day has: 92, 96 or 100."""
    start = datetime(day.year, day.month, day.day, tzinfo=ITALY)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=ITALY)
    return int((end.astimezone(UTC) - start.astimezone(UTC)) / QUARTER)


def local_midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ITALY).astimezone(UTC)


def parse_kwh(text: str) -> Decimal | None:
    """A kWh value as distributors write it (``0,123``, ``1.234,5``, ``0.5``)."""
    text = text.strip().strip('"').strip()
    if not _NUMBER.fullmatch(text):
        return None
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        return None


def normalise_pod(text: str) -> str | None:
    pod = text.strip().upper()
    return pod if POD.fullmatch(pod) else None


def from_name(name: str) -> tuple[str | None, Direction | None]:
    """The POD and direction a file name carries, if any."""
    pod = _POD_IN_NAME.search(name)
    direction = _DIRECTION_IN_NAME.search(name)
    return (
        pod.group(0).upper() if pod else None,
        DIRECTIONS[direction.group(0).lower()] if direction else None,
    )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheet exports on Italian Windows machines.
        return data.decode("cp1252", errors="replace")


# ----------------------------------------------------------------------- CSV


def _local_instant(day: date, hour: int, minute: int, fold: int) -> datetime | None:
    """The UTC start of a local quarter hour; None when the local time does not
    exist that day (the spring gap) or, for a repeated column, is not repeated."""
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ITALY, fold=fold)
    utc = local.astimezone(UTC)
    back = utc.astimezone(ITALY)
    if (back.hour, back.minute) != (hour, minute):
        return None
    if fold == 1 and local.replace(fold=0).utcoffset() == local.utcoffset():
        return None
    return utc


def parse_csv(
    name: str, data: bytes, pod: str | None = None, direction: Direction | None = None
) -> Parsed:
    out = Parsed()
    named_pod, named_direction = from_name(name)
    if pod and named_pod and pod != named_pod:
        out.error(name, None, None, f"the POD of the form ({pod})", f"file name says {named_pod}")
    if direction and named_direction and direction != named_direction:
        out.error(
            name, None, None, f"the direction of the form ({direction})",
            f"file name says {named_direction}",
        )  # fmt: skip
    pod = pod or named_pod
    direction = direction or named_direction
    if pod is None:
        out.error(
            name,
            None,
            None,
            "a POD (IT + 3 digits + E + 8 digits) in the file name or form",
            "no POD",
        )
    if direction is None:
        out.error(name, None, None, "immessa or prelevata in the file name or form", "no direction")
    reader = csv.reader(io.StringIO(_decode(data)), delimiter=";", quotechar='"')
    try:
        rows = list(reader)
    except csv.Error as exc:
        # A cell beyond the csv module's limit (128 KiB) or a NUL byte: not a meter file, and
        # refused as one rather than failing the upload (500).
        out.error(name, reader.line_num, None, "a quarter-hour CSV (Giorno;00:00-00:15;...)",
                  f"unreadable CSV: {exc}")  # fmt: skip
        return out
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if not rows:
        out.error(name, 1, None, "a header Giorno;00:00-00:15;...", "the file is empty")
        return out
    header = [cell.strip() for cell in rows[0]]
    if header and header[-1] == "":
        header.pop()  # the trailing ';'
    columns: list[tuple[int, int, int]] = []  # (hour, minute, fold)
    seen: dict[tuple[int, int], int] = {}
    if not header or header[0].lower() != "giorno":
        out.error(name, 1, "A", "Giorno", f"first header cell is {header[0] if header else ''!r}")
    for index, label in enumerate(header[1:], start=2):
        match = _INTERVAL.fullmatch(label)
        if match is None:
            out.error(name, 1, _column(index), "HH:MM-HH:MM", f"header cell {label!r}")
            continue
        hour, minute = int(match.group(1)), int(match.group(2))
        fold = seen.get((hour, minute), 0)
        seen[(hour, minute)] = fold + 1
        if fold > 1 or minute % 15 or hour > 23:
            out.error(
                name, 1, _column(index), "a quarter hour, at most twice", f"header cell {label!r}"
            )
        columns.append((hour, minute, min(fold, 1)))
    if len(seen) != 96:
        out.error(
            name,
            1,
            None,
            "the 96 quarter hours 00:00-00:15 ... 23:45-00:00",
            f"{len(seen)} distinct",
        )
    if out.errors:
        return out
    assert pod is not None and direction is not None
    curve: Curve | None = None
    days_seen: set[date] = set()
    for line, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row]
        if cells and cells[-1] == "" and len(cells) == len(columns) + 2:
            cells.pop()
        if not any(cells):
            continue
        match = _DAY.fullmatch(cells[0])
        day = None
        if match:
            try:
                day = date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
            except ValueError:
                day = None
        if day is None:
            out.error(name, line, "A", "a day DD/MM/YYYY", f"{cells[0]!r}")
            continue
        if day in days_seen:
            out.error(name, line, "A", "each day once", f"{cells[0]} again")
            continue
        days_seen.add(day)
        month = day.replace(day=1)
        if curve is None:
            curve = Curve(name, pod, direction, month)
        elif month != curve.month:
            out.error(name, line, "A", f"a day of {curve.month:%m/%Y}", f"{cells[0]}")
            continue
        if len(cells) != len(columns) + 1:
            out.error(name, line, None, f"{len(columns) + 1} cells", f"{len(cells)} cells")
            continue
        day_values: list[tuple[datetime, Decimal]] = []
        errors_before = len(out.errors)
        for index, ((hour, minute, fold), text) in enumerate(
            zip(columns, cells[1:], strict=True), start=2
        ):
            start = _local_instant(day, hour, minute, fold)
            if start is None:
                if text:
                    why = "repeated" if fold else "in the hour skipped at the change to summer time"
                    out.error(
                        name,
                        line,
                        _column(index),
                        "empty",
                        f"{text!r} for a quarter hour not {why}" if fold else f"{text!r} {why}",
                    )
                continue
            value = parse_kwh(text)
            if value is None:
                out.error(name, line, _column(index), "kWh like 0,125", f"{text!r}")
                continue
            day_values.append((start + QUARTER, value))
        if len(day_values) == quarter_hours(day):
            curve.values.extend(sorted(day_values))
        elif len(out.errors) == errors_before:
            expected = quarter_hours(day)
            hint = " (the header repeats 02:00-02:15 ... 02:45-03:00)" if expected == 100 else ""
            out.error(
                name, line, None, f"{expected} quarter hours on {day:%d/%m/%Y}{hint}",
                f"{len(day_values)}",
            )  # fmt: skip
    if curve is None and not out.errors:
        out.error(name, 2, "A", "at least one day", "no rows")
    if curve is not None and not out.errors:
        out.curves.append(curve)
    return out


def _column(index: int) -> str:
    """Spreadsheet column letters (1 -> A), as a manager sees the file."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# ----------------------------------------------------------------------- XML


def _text(element: Element, tag: str) -> str | None:
    child = element.find(tag)
    return None if child is None or child.text is None else child.text.strip()


def parse_xml(name: str, data: bytes, direction: Direction | None = None) -> Parsed:
    out = Parsed()
    try:
        root = SafeElementTree.fromstring(data)
    except (SafeElementTree.ParseError, DefusedXmlException) as exc:
        line = getattr(exc, "position", (None,))[0]
        out.error(name, line, None, "well-formed XML (FlussoMisure)", str(exc))
        return out
    if root.tag != "FlussoMisure":
        out.error(name, 1, None, "a FlussoMisure document", f"root element {root.tag}")
        return out
    blocks = root.findall("DatiPod")
    if not blocks:
        out.error(name, None, "DatiPod", "at least one DatiPod", "none")
    _, named_direction = from_name(name)
    for number, block in enumerate(blocks, start=1):
        where = f"DatiPod[{number}]"
        pod = normalise_pod(_text(block, "Pod") or "")
        if pod is None:
            out.error(
                name,
                None,
                f"{where}/Pod",
                "IT + 3 digits + E + 8 digits",
                repr(_text(block, "Pod")),
            )
        month = _month(_text(block, "MeseAnno") or "")
        if month is None:
            out.error(name, None, f"{where}/MeseAnno", "MM/YYYY", repr(_text(block, "MeseAnno")))
        verso = (_text(block, "Verso") or "").lower()
        block_direction = DIRECTIONS.get(verso) if verso else (direction or named_direction)
        if block_direction is None:
            out.error(
                name,
                None,
                f"{where}/Verso",
                "Immessa or Prelevata (or the form's direction)",
                repr(verso or None),
            )
        block_type = (_text(block, "TipoDato") or "R").upper()
        if block_type not in ("E", "R"):
            out.error(name, None, f"{where}/TipoDato", "E or R", repr(block_type))
        curva = block.find("Curva")
        if curva is None:
            out.error(name, None, f"{where}/Curva", "a Curva", "none")
            continue
        if pod is None or month is None or block_direction is None:
            continue
        curve = Curve(name, pod, block_direction, month)
        days: set[date] = set()
        for ea in curva.findall("Ea"):
            for error in _read_day(curve, ea, where, block_type, days):
                out.error(name, None, *error)
        curve.values.sort()
        if not days:
            out.error(name, None, f"{where}/Curva", "at least one Ea", "none")
        out.curves.append(curve)
    if out.errors:
        out.curves.clear()
    return out


def _month(text: str) -> date | None:
    match = re.fullmatch(r"(\d{2})/(\d{4})", text)
    if not match or not 1 <= int(match.group(1)) <= 12:
        return None
    return date(int(match.group(2)), int(match.group(1)), 1)


def _read_day(
    curve: Curve, ea: Element, where: str, block_type: str, days: set[date]
) -> Iterator[tuple[str, str, str]]:
    giorno = ea.get("Giorno", "")
    column = f"{where}/Curva/Ea[@Giorno={giorno!r}]"
    try:
        day = curve.month.replace(day=int(giorno))
    except ValueError:
        yield column, f"a day of {curve.month:%m/%Y}", repr(giorno)
        return
    if day in days:
        yield column, "each day once", "again"
        return
    days.add(day)
    expected = quarter_hours(day)
    flagged = ea.get("CambioOra", "N").upper() == "S"
    if flagged != (expected != 96):
        yield (
            column,
            f'CambioOra="{"S" if expected != 96 else "N"}" ({expected} quarter hours)',
            f"CambioOra={ea.get('CambioOra')!r}",
        )
    kind = (ea.get("TipoDato") or block_type).upper()
    if kind not in ("E", "R"):
        yield column, "TipoDato E or R", repr(kind)
    values: list[Decimal] = []
    for index, child in enumerate(ea, start=1):
        if child.tag != f"E{index}":
            yield f"{column}/{child.tag}", f"E{index}", child.tag
            return
        value = parse_kwh(child.text or "")
        if value is None:
            yield f"{column}/{child.tag}", "kWh like 0,125", repr(child.text)
            return
        values.append(value)
    if len(values) != expected:
        yield column, f"{expected} quarter hours on {day:%d/%m/%Y}", f"{len(values)}"
        return
    if kind == "E":
        curve.estimated_days.add(day)
    start = local_midnight_utc(day)
    curve.values.extend((start + QUARTER * (i + 1), v) for i, v in enumerate(values))


# ----------------------------------------------------------------------- any


def parse_file(
    name: str, data: bytes, pod: str | None = None, direction: Direction | None = None
) -> Parsed:
    """Any supported file by its name (a ZIP's members by theirs)."""
    lower = name.lower()
    if lower.endswith(".zip"):
        return _parse_zip(name, data, pod, direction)
    if lower.endswith(".xml"):
        return parse_xml(name, data, direction)
    if lower.endswith(".csv") or lower.endswith(".txt"):
        return parse_csv(name, data, pod, direction)
    out = Parsed()
    out.error(name, None, None, "a .csv, .xml or .zip file", "unknown file type")
    return out


def _parse_zip(name: str, data: bytes, pod: str | None, direction: Direction | None) -> Parsed:
    out = Parsed()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        out.error(name, None, None, "a ZIP archive", str(exc))
        return out
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) > MAX_ZIP_MEMBERS:
        out.error(name, None, None, f"at most {MAX_ZIP_MEMBERS} files", f"{len(members)}")
        return out
    for member in members:
        label = f"{name}/{member.filename}"
        if member.filename.lower().endswith(".zip"):
            out.error(label, None, None, "a .csv or .xml file", "a ZIP inside a ZIP")
            continue
        if member.file_size > MAX_MEMBER_BYTES:
            out.error(label, None, None, f"at most {MAX_MEMBER_BYTES} bytes", f"{member.file_size}")
            continue
        with archive.open(member) as handle:
            content = handle.read(MAX_MEMBER_BYTES + 1)
        out.extend(parse_file(label, content, pod, direction))
    if not members:
        out.error(name, None, None, "at least one file", "an empty archive")
    if out.errors:
        out.curves.clear()
    return out
