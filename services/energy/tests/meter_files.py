"""Distributor meter files in the layouts the importer reads, made by the
tests (never copied from anywhere): the monthly quarter-hour CSV, the XML
FlussoMisure and ZIPs of them. Each value is a function of the UTC instant
that ends its quarter hour, so a value placed on the wrong instant shows."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from cerc_shared.clock import ITALY

QUARTER = timedelta(minutes=15)
Value = Callable[[datetime], Decimal]


def by_instant(end: datetime) -> Decimal:
    """A distinct small value per instant of a month: 0.001 x (minutes since the 1st, mod 997)."""
    minutes = int((end - end.replace(day=1, hour=0, minute=0)).total_seconds() // 60)
    return Decimal(minutes % 997 + 1) / 1000


def days_of(year: int, month: int) -> list[date]:
    first = date(year, month, 1)
    days = []
    while first.month == month:
        days.append(first)
        first += timedelta(days=1)
    return days


def local_quarters(day: date) -> list[datetime]:
    """The UTC starts of a local day's quarter hours (92, 96 or 100)."""
    start = datetime(day.year, day.month, day.day, tzinfo=ITALY).astimezone(UTC)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=ITALY).astimezone(UTC)
    out = []
    while start < end:
        out.append(start)
        start += QUARTER
    return out


def _label(hour: int, minute: int) -> str:
    end = (hour * 60 + minute + 15) % (24 * 60)
    return f"{hour:02d}:{minute:02d}-{end // 60:02d}:{end % 60:02d}"


def _kwh(value: Decimal) -> str:
    return f"{value:.3f}".replace(".", ",")


def csv_month(
    year: int,
    month: int,
    value: Value = by_instant,
    *,
    repeated_hour: bool | None = None,
    overrides: dict[tuple[int, int], str] | None = None,
) -> bytes:
    """The monthly CSV: ``Giorno;00:00-00:15;...``, quoted decimal-comma kWh, trailing ';'.

    ``repeated_hour`` (default: when the month has a 25-hour day) adds the
    four repeated 02:xx columns after 02:45-03:00. ``overrides`` replaces
    cell (row number from 1 for the first day, column index from 1) text."""
    days = days_of(year, month)
    if repeated_hour is None:
        repeated_hour = any(len(local_quarters(d)) == 100 for d in days)
    columns: list[tuple[int, int, int]] = []
    for q in range(96):
        columns.append((q // 4, q % 4 * 15, 0))
        if repeated_hour and q == 11:
            columns += [(2, m, 1) for m in (0, 15, 30, 45)]
    lines = [";".join(["Giorno", *(_label(h, m) for h, m, _ in columns)]) + ";"]
    for row, day in enumerate(days, start=1):
        by_label: dict[tuple[int, int, int], Decimal] = {}
        for start in local_quarters(day):
            local = start.astimezone(ITALY)
            by_label[(local.hour, local.minute, local.fold)] = value(start + QUARTER)
        cells = [f"{day:%d/%m/%Y}"]
        for column, key in enumerate(columns, start=1):
            cell = by_label.get(key)
            text = "" if cell is None else f'"{_kwh(cell)}"'
            cells.append((overrides or {}).get((row, column), text))
        lines.append(";".join(cells) + ";")
    return ("\r\n".join(lines) + "\r\n").encode()


def xml_month(
    pods: list[tuple[str, str]],
    year: int,
    month: int,
    value: Value = by_instant,
    *,
    estimated_days: set[int] = frozenset(),  # type: ignore[assignment]
    drop_flag_on: int | None = None,
    short_day: int | None = None,
) -> bytes:
    """A FlussoMisure with one DatiPod per (POD, Verso)."""
    blocks = []
    for pod, verso in pods:
        eas = []
        for day in days_of(year, month):
            quarters = local_quarters(day)
            if day.day == short_day:
                quarters = quarters[:-1]
            flag = ' CambioOra="S"' if len(local_quarters(day)) != 96 else ""
            if day.day == drop_flag_on:
                flag = ""
            kind = ' TipoDato="E"' if day.day in estimated_days else ""
            values = "".join(
                f"<E{i}>{_kwh(value(q + QUARTER))}</E{i}>" for i, q in enumerate(quarters, start=1)
            )
            eas.append(f'<Ea Giorno="{day.day:02d}"{flag}{kind}>{values}</Ea>')
        blocks.append(
            f"<DatiPod><Pod>{pod}</Pod><MeseAnno>{month:02d}/{year}</MeseAnno>"
            f"<Verso>{verso}</Verso><TipoDato>R</TipoDato><Curva>{''.join(eas)}</Curva></DatiPod>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<FlussoMisure>'
        + "".join(blocks)
        + "</FlussoMisure>"
    ).encode()


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()
