"""The GSE's statements as files (its portal has no public API): a month's
figures or a payment statement in the project's template, CSV or XLSX
(docs/gse-import-template.md). The whole file is checked before anything is
kept; every problem is named by file, line, column and what was expected, and
nothing is written when there is one. What a file says is stored exactly as a
pull from the API would be (figures by content, payments by their id), so the
same month imported twice, or imported and pulled, is kept once."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from cerc_shared.auth import Principal
from cerc_shared.envelope import ApiError, ErrorItem
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from economic_service import repository
from economic_service.models import GseImport, registry
from economic_service.service.access import require_admin
from economic_service.service.gse import calendar, statements, true_up
from economic_service.service.reconciliation import announce_if_mismatch

RESULT_COLUMNS = (
    "row_type",
    "month",
    "pod",
    "substation",
    "zone",
    "kind",
    "eligibility",
    "fed_in_kwh",
    "withdrawn_kwh",
    "shared_energy_kwh",
    "incentivised_shared_energy_kwh",
    "incentive_eur",
    "refund_eur",
    "trase_eur_mwh",
)
PAYMENT_COLUMNS = ("payment_id", "payment_date", "kind", "period", "amount_eur")
ENERGY = ("fed_in_kwh", "withdrawn_kwh", "shared_energy_kwh", "incentivised_shared_energy_kwh")
MONEY = ("incentive_eur", "refund_eur")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
YEAR = re.compile(r"^\d{4}$")
POD = re.compile(r"^IT\d{3}E\d{8}[A-Z]?$")
ELIGIBILITY = ("ELIGIBLE", "REFUND_ONLY", "INELIGIBLE")
MAX_ERRORS = 100


@dataclass(frozen=True)
class RowError:
    file: str
    line: int | None
    column: str | None
    expected: str
    message: str


class Problems:
    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[RowError] = []

    def add(self, line: int | None, column: str | None, expected: str, message: str) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append(RowError(self.file, line, column, expected, message))


def _rejection(errors: list[RowError]) -> ApiError:
    error = ApiError(422, "invalid_file", "the file was not loaded: nothing was written")
    error.errors = [
        ErrorItem(
            code="invalid_file",
            message=f"{e.file}"
            + (f", line {e.line}" if e.line is not None else "")
            + (f", column {e.column}" if e.column else "")
            + f": {e.message}",
            field=":".join(str(p) for p in (e.file, e.line, e.column) if p is not None),
            expected=e.expected,
        )
        for e in errors
    ]
    return error


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value).strip()


def read_rows(name: str, data: bytes, problems: Problems) -> list[list[str]]:
    """The file's rows as text cells, header first; CSV (comma or semicolon) or XLSX."""
    if name.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a file that is not XLSX
            problems.add(None, None, "an XLSX workbook", f"not readable: {type(exc).__name__}")
            return []
        sheet = book.worksheets[0]
        rows = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        book.close()
        return [r for r in rows if any(r)]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.add(None, None, "UTF-8 text", "the file is not UTF-8")
        return []
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        # newline="": a lone carriage return ends a line as the csv module expects.
        return [
            [c.strip() for c in r]
            for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
            if any(c.strip() for c in r)
        ]
    except csv.Error as exc:  # found by the fuzzer: it was a 500
        problems.add(None, None, "a CSV file", f"not readable: {exc}")
        return []


def _decimal(problems: Problems, line: int, column: str, raw: str, places: int) -> Decimal | None:
    try:
        value = Decimal(raw.replace(",", ".")) if raw else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value < 0:
        problems.add(
            line, column, f"a number >= 0 with at most {places} decimals", f"{raw!r} is not one"
        )
        return None
    if value != round(value, places):
        problems.add(line, column, f"at most {places} decimals", f"{raw!r} has more")
        return None
    return value


def _kwh(v: Decimal) -> str:
    return f"{v:.3f}"


def _eur(v: Decimal) -> str:
    return f"{v:.2f}"


def parse_results(
    rows: list[list[str]], problems: Problems, pods_of: dict[str, set[str]]
) -> list[dict[str, Any]]:
    """Month documents in the API's shape, from a checked figures file."""
    header = rows[0]
    index = {name: i for i, name in enumerate(header)}
    by_month: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"points": [], "excluded_points": [], "total": None}
    )
    seen: dict[tuple[str, str], int] = {}
    for line, row in enumerate(rows[1:], start=2):
        cell = {name: (row[i] if i < len(row) else "") for name, i in index.items()}
        kind = cell["row_type"].upper()
        month = cell["month"]
        if kind not in ("POD", "TOTAL"):
            problems.add(line, "row_type", "POD or TOTAL", f"{cell['row_type']!r}")
            continue
        if not MONTH.match(month):
            problems.add(line, "month", "YYYY-MM", f"{month!r} is not a month")
            continue
        values: dict[str, Decimal | None] = {
            **{f: _decimal(problems, line, f, cell[f], 3) for f in ENERGY},
            **{f: _decimal(problems, line, f, cell[f], 2) for f in MONEY},
        }
        if kind == "TOTAL":
            trase = _decimal(problems, line, "trase_eur_mwh", cell["trase_eur_mwh"], 6)
            if by_month[month]["total"] is not None:
                problems.add(
                    line, "row_type", "one TOTAL row per month", f"a second TOTAL row for {month}"
                )
            by_month[month]["total"] = (line, values, trase)
            continue
        pod = cell["pod"].upper()
        if not POD.match(pod):
            problems.add(line, "pod", "IT + 3 digits + E + 8 digits", f"{cell['pod']!r}")
            continue
        if pod not in pods_of.get(month, set()):
            problems.add(
                line,
                "pod",
                "a POD of the community in that month",
                f"{pod} is not in the community in {month}",
            )
        if (month, pod) in seen:
            problems.add(
                line,
                "pod",
                "one row per POD and month",
                f"{pod} {month} repeats line {seen[(month, pod)]}",
            )
        seen[(month, pod)] = line
        point_kind = cell["kind"].upper()
        if point_kind not in ("PRODUCTION", "CONSUMPTION"):
            problems.add(line, "kind", "PRODUCTION or CONSUMPTION", f"{cell['kind']!r}")
        eligibility = (cell["eligibility"] or "ELIGIBLE").upper()
        if eligibility not in ELIGIBILITY:
            problems.add(line, "eligibility", " or ".join(ELIGIBILITY), f"{cell['eligibility']!r}")
        if not cell["substation"]:
            problems.add(line, "substation", "the primary substation's code", "empty")
        if eligibility == "INELIGIBLE":
            by_month[month]["excluded_points"].append(
                {"pod": pod, "plant_id": None, "reason": "not admitted (GSE statement)"}
            )
            continue
        by_month[month]["points"].append((line, pod, cell, point_kind, eligibility, values))
    documents = []
    for month, parts in sorted(by_month.items()):
        if parts["total"] is None:
            problems.add(None, "row_type", f"a TOTAL row for {month}", "none in the file")
            continue
        total_line, totals, trase = parts["total"]
        if problems.items:
            continue
        points = parts["points"]
        for money in MONEY:
            summed = sum((p[5][money] for p in points), Decimal(0))
            # The GSE rounds each plant's amount: a cent per row at most.
            if abs(summed - totals[money]) > Decimal(len(points)) / 100:
                problems.add(
                    total_line,
                    money,
                    f"the POD rows' sum ({_eur(summed)})",
                    f"the total {_eur(totals[money])} differs",
                )
        if problems.items:
            continue
        substations: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for _, _, cell, _, _, values in points:
            for f in (*ENERGY, *MONEY):
                substations[cell["substation"]][f] += values[f] or Decimal(0)
        documents.append(
            {
                "id": f"GSE-FILE-{month}",
                "month": month,
                "revision": 0,
                "parameters": {"trase_eur_mwh": str(trase)},
                "totals": {
                    **{f: _kwh(totals[f]) for f in ENERGY},
                    **{f: _eur(totals[f]) for f in MONEY},
                    "total_eur": _eur(totals["incentive_eur"] + totals["refund_eur"]),
                },
                "substations": [
                    {
                        "code": code,
                        **{f: _kwh(v[f]) for f in ENERGY},
                        **{f: _eur(v[f]) for f in MONEY},
                    }
                    for code, v in sorted(substations.items())
                ],
                "points": [
                    {
                        "pod": pod,
                        "plant_id": None,
                        "kind": kind,
                        "substation": cell["substation"],
                        "zone": cell["zone"],
                        "eligibility": eligibility,
                        **{f: _kwh(values[f]) for f in ENERGY},
                        **{f: _eur(values[f]) for f in MONEY},
                    }
                    for _, pod, cell, kind, eligibility, values in points
                ],
                "excluded_points": parts["excluded_points"],
            }
        )
    return documents


def parse_payments(rows: list[list[str]], problems: Problems) -> list[dict[str, Any]]:
    header = rows[0]
    index = {name: i for i, name in enumerate(header)}
    payments: dict[str, dict[str, Any]] = {}
    for line, row in enumerate(rows[1:], start=2):
        cell = {name: (row[i] if i < len(row) else "") for name, i in index.items()}
        if not cell["payment_id"]:
            problems.add(line, "payment_id", "the GSE's payment reference", "empty")
            continue
        try:
            paid_on = date.fromisoformat(cell["payment_date"])
        except ValueError:
            problems.add(line, "payment_date", "a date YYYY-MM-DD", f"{cell['payment_date']!r}")
            continue
        kind = cell["kind"].upper()
        if kind not in ("ADVANCE", "CONGUAGLIO"):
            problems.add(line, "kind", "ADVANCE or CONGUAGLIO", f"{cell['kind']!r}")
        period = cell["period"]
        if not (MONTH.match(period) if kind == "ADVANCE" else YEAR.match(period)):
            problems.add(
                line, "period", "YYYY-MM for an ADVANCE, YYYY for a CONGUAGLIO", f"{period!r}"
            )
        try:
            amount = Decimal(cell["amount_eur"].replace(",", "."))
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite() or amount != round(amount, 2):
            # A conguaglio may be negative (advances above the year's figures).
            problems.add(
                line,
                "amount_eur",
                "an amount in euro, at most 2 decimals",
                f"{cell['amount_eur']!r}",
            )
            continue
        payment = payments.setdefault(
            cell["payment_id"],
            {
                "id": cell["payment_id"],
                "payment_date": paid_on.isoformat(),
                "items": [],
                "_line": line,
            },
        )
        if payment["payment_date"] != paid_on.isoformat():
            problems.add(
                line,
                "payment_date",
                f"{payment['payment_date']} as on line {payment['_line']}",
                "one payment, two dates",
            )
        payment["items"].append({"kind": kind, "period": period, "amount_eur": _eur(amount)})
    out = []
    for payment in payments.values():
        total = sum((Decimal(i["amount_eur"]) for i in payment["items"]), Decimal(0))
        payment.pop("_line")
        out.append({**payment, "amount_eur": _eur(total)})
    return out


def parse_file(
    name: str, data: bytes, pods_of: dict[str, set[str]]
) -> tuple[str, list[dict[str, Any]], int]:
    """(RESULTS or PAYMENTS, documents, data rows); raises the 422 with every problem."""
    problems = Problems(name)
    rows = read_rows(name, data, problems)
    if not problems.items and not rows:
        problems.add(None, None, "a header and at least one row", "the file is empty")
    kind, documents = "RESULTS", []
    if not problems.items:
        header = [h.strip().lower() for h in rows[0]]
        rows[0] = header
        columns: tuple[str, ...] = RESULT_COLUMNS
        if "payment_id" in header:
            kind, columns = "PAYMENTS", PAYMENT_COLUMNS
        for missing in [c for c in columns if c not in header]:
            problems.add(
                1,
                missing,
                "the template's columns: " + ", ".join(columns),
                f"column {missing} is missing",
            )
        if len(rows) < 2:
            problems.add(None, None, "at least one row", "the file has a header only")
        if not problems.items:
            documents = (
                parse_payments(rows, problems)
                if kind == "PAYMENTS"
                else parse_results(rows, problems, pods_of)
            )
    if problems.items:
        raise _rejection(problems.items)
    return kind, documents, len(rows) - 1


async def _pods_by_month(session: AsyncSession, community_id: int) -> dict[str, set[str]]:
    """Every month a POD was in the community (plant stays), as the file will be checked."""
    reader = registry.reader(session)
    stays = await reader.plants_of_community(community_id)
    plants = await reader.plants(s.plant_id for s in stays)
    out: dict[str, set[str]] = defaultdict(set)
    for stay in stays:
        facts = plants.get(stay.plant_id)
        if facts is None:
            continue
        month = stay.valid_from.replace(day=1)
        end = stay.valid_to or date(2100, 1, 1)
        while month < end and month.year < 2100:
            out[f"{month.year:04d}-{month.month:02d}"].add(facts.pod)
            month = calendar.next_month(month)
            if month > date.today().replace(day=1):
                break
    return out


async def import_statement(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    name: str,
    data: bytes,
    tolerance_cents: int,
) -> dict[str, Any]:
    await require_admin(session, principal, community_id)
    pods_of = await _pods_by_month(session, community_id)
    kind, documents, rows = await run_in_threadpool(parse_file, name, data, pods_of)
    new = []
    if kind == "RESULTS":
        for document in documents:
            if await statements.store_result(session, community_id, document, "IMPORT"):
                new.append(document["month"])
                await statements.expect_advances(session, community_id, document["month"])
        for month in new:
            await announce_if_mismatch(session, community_id, month, tolerance_cents)
    else:
        for payment in documents:
            if await statements.record_payment(
                session, community_id, payment, source="IMPORT", actor=principal.user_id
            ):
                new.append(payment["id"])
        for year, stated in true_up.stated_true_ups(documents, None).items():
            await true_up.record_true_up(session, community_id, year, stated)
    await repository.add_gse_import(
        session,
        GseImport(
            community_id=community_id,
            kind=kind,
            filename=name[:200],
            sha256=hashlib.sha256(data).hexdigest(),
            rows=rows,
            created_by=principal.user_id,
        ),
    )
    return {"kind": kind, "rows": rows, "new": new, "unchanged": len(documents) - len(new)}
