"""The market operator's (GME) day-ahead zonal prices: its daily XML files, inside a ZIP, to
`Decimal` €/MWh per zone and interval. Pure: bytes in, values out.

Two kinds of file, one day each:
- hourly, rows `<Prezzi><Data>YYYYMMDD</Data><Mercato>MGP</Mercato><Ora>1..24</Ora><PUN>..</PUN>
  <NORD>..</NORD>...</Prezzi>`; `Ora` runs to 23 or 25 on the days clocks change;
- from 1 October 2025, when the day-ahead market clears per quarter hour, also
  `<Prezzi15>` rows with `Periodo` 1..96 (92 or 100 on those days) and `Granularity` PT15.
Numbers use a decimal comma (`112,345678`; a dot only groups thousands). Elements of zones that
are not Italian market zones (foreign and virtual zones, poles) are ignored; `PUN` is kept.
Interval k of a day starts k − 1 intervals after its Italian local midnight, which is what
makes a 23- or 25-hour day come out right.

The rules price shared energy per hour (cer-rules §1: settlement hours are market hours), so a
quarter-hour day's hourly Pz is **derived**: the arithmetic mean of the hour's four quarter
prices, rounded half up to 6 decimals (the precision the market operator publishes). The rules
say nothing more specific; a volume-weighted mean would need the quantities file too. When a day
has both files, `hourly_zonal_prices` takes the derived price (the quarter prices are what the
market cleared); the published hourly file is kept as it came.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from xml.etree import ElementTree as ET

import numpy as np

from cacer.hours import local_midnight_utc
from cacer.parameters import MarketZone
from cacer.scenario import MAX_PROBLEMS_PER_CHECK, ZONE_INDEX, Prices

MARKET = "MGP"
HOURLY_ROW = "Prezzi"
QUARTER_HOUR_ROW = "Prezzi15"
QUARTERS_PER_HOUR = 4
#: The hourly price derived from quarter prices keeps the precision the operator publishes.
PRICE_QUANTUM = Decimal("0.000001")
#: A day's file is some tens of kilobytes; a member far beyond this is not a price file.
MAX_MEMBER_BYTES = 8 * 1024 * 1024
MAX_MEMBERS = 1000

_NUMBER = re.compile(r"-?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?")
_DAY = re.compile(r"\d{8}")


class PriceFileError(ValueError):
    """The file cannot be read as prices; `problems` says each reason, with where."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class ZonalPrice:
    zone: MarketZone
    start_utc: int  # epoch seconds
    minutes: int  # 60 or 15
    eur_mwh: Decimal


@dataclass(frozen=True)
class DayPrices:
    """One market day of one file: a price per zone for each of its intervals, in order."""

    day: date
    interval_minutes: int  # 60 (`Prezzi`) or 15 (`Prezzi15`)
    zones: Mapping[MarketZone, tuple[Decimal, ...]]
    pun: tuple[Decimal, ...] | None = None

    @property
    def start_utc(self) -> int:
        return local_midnight_utc(self.day)

    @property
    def hours(self) -> int:
        return day_hours(self.day)

    def interval_starts_utc(self) -> list[int]:
        step = self.interval_minutes * 60
        count = self.hours * 60 // self.interval_minutes
        return [self.start_utc + k * step for k in range(count)]

    def hourly(self) -> dict[MarketZone, tuple[Decimal, ...]]:
        """The hourly price of each zone: as published, or derived from the quarters."""
        if self.interval_minutes == 60:
            return dict(self.zones)
        return {
            zone: tuple(
                hourly_price_of_quarters(values[k : k + QUARTERS_PER_HOUR])
                for k in range(0, len(values), QUARTERS_PER_HOUR)
            )
            for zone, values in self.zones.items()
        }

    def rows(self) -> Iterator[ZonalPrice]:
        """Every price of the file at its own interval."""
        starts = self.interval_starts_utc()
        for zone, values in self.zones.items():
            for start, value in zip(starts, values, strict=True):
                yield ZonalPrice(zone, start, self.interval_minutes, value)


def day_hours(day: date) -> int:
    """23, 24 or 25: the market hours of an Italian day."""
    return (local_midnight_utc(day + timedelta(days=1)) - local_midnight_utc(day)) // 3600


def hourly_price_of_quarters(quarters: Sequence[Decimal]) -> Decimal:
    """The hour's Pz from its four quarter prices: arithmetic mean, 6 decimals, half up."""
    if len(quarters) != QUARTERS_PER_HOUR:
        raise ValueError(f"an hour has {QUARTERS_PER_HOUR} quarters, not {len(quarters)}")
    return (sum(quarters, Decimal(0)) / QUARTERS_PER_HOUR).quantize(
        PRICE_QUANTUM, rounding=ROUND_HALF_UP
    )


def parse_price_number(text: str) -> Decimal | None:
    """`1.234,567` -> Decimal("1234.567"); None when it is not a number in that form."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    return Decimal(text.replace(".", "").replace(",", "."))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _Problems:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.found: list[str] = []
        self.kinds: dict[str, int] = {}

    def add(self, kind: str, message: str) -> None:
        """One line per problem, summarised beyond `MAX_PROBLEMS_PER_CHECK` of one kind."""
        seen = self.kinds.get(kind, 0)
        self.kinds[kind] = seen + 1
        if seen < MAX_PROBLEMS_PER_CHECK:
            self.found.append(f"{self.prefix}{message}")

    def lines(self) -> list[str]:
        more = [
            f"{self.prefix}{n - MAX_PROBLEMS_PER_CHECK} more: {kind}"
            for kind, n in self.kinds.items()
            if n > MAX_PROBLEMS_PER_CHECK
        ]
        return self.found + more


def parse_price_xml(data: bytes, source: str = "") -> DayPrices:
    """One day's `Prezzi` or `Prezzi15` file; raise `PriceFileError` listing every problem."""
    p = _Problems(f"{source}: " if source else "")
    head = data[:4096].upper()
    # The operator's files have no DTD; one here could only be an entity expansion attack.
    if b"<!DOCTYPE" in head or b"<!ENTITY" in data.upper():
        raise PriceFileError([f"{p.prefix}a DTD or entity declaration is not accepted"])
    try:
        root = ET.fromstring(data)  # noqa: S314 - no DTD (checked above); expat >= 2.4.1
    except ET.ParseError as e:
        raise PriceFileError([f"{p.prefix}not well-formed XML: {e}"]) from e
    rows = [e for e in root.iter() if _local(e.tag) in (HOURLY_ROW, QUARTER_HOUR_ROW)]
    kinds = {_local(e.tag) for e in rows}
    if not rows:
        raise PriceFileError([f"{p.prefix}no <{HOURLY_ROW}> or <{QUARTER_HOUR_ROW}> rows"])
    if len(kinds) > 1:
        raise PriceFileError([f"{p.prefix}both hourly and quarter-hour rows in one file"])
    quarter_hour = kinds == {QUARTER_HOUR_ROW}
    index_field = "Periodo" if quarter_hour else "Ora"
    records = [{_local(child.tag): (child.text or "").strip() for child in row} for row in rows]

    days = {r.get("Data", "") for r in records}
    if len(days) != 1:
        raise PriceFileError([f"{p.prefix}rows of several days: {', '.join(sorted(days))}"])
    (day_text,) = days
    try:
        if not _DAY.fullmatch(day_text):
            raise ValueError(day_text)
        day = date(int(day_text[:4]), int(day_text[4:6]), int(day_text[6:]))
    except ValueError:
        raise PriceFileError([f"{p.prefix}Data {day_text!r} is not a date YYYYMMDD"]) from None
    intervals = day_hours(day) * (QUARTERS_PER_HOUR if quarter_hour else 1)

    position: dict[int, int] = {}  # interval number -> row
    for i, r in enumerate(records):
        row = f"row {i + 1}"
        if r.get("Mercato") != MARKET:
            p.add("market", f"{row}: Mercato {r.get('Mercato')!r}, expected {MARKET}")
        if quarter_hour and r.get("Granularity", "PT15") != "PT15":
            p.add("granularity", f"{row}: Granularity {r.get('Granularity')!r}, expected PT15")
        n_text = r.get(index_field, "")
        n = int(n_text) if n_text.isdigit() else 0
        if not 1 <= n <= intervals:
            p.add(
                "interval",
                f"{row}: {index_field} {n_text!r}, expected 1..{intervals} on {day.isoformat()}",
            )
        elif n in position:
            p.add("interval", f"{row}: {index_field} {n} again (row {position[n] + 1})")
        else:
            position[n] = i
    missing = sorted(set(range(1, intervals + 1)) - set(position))
    if missing and not p.found:
        shown = ", ".join(map(str, missing[:MAX_PROBLEMS_PER_CHECK]))
        p.add("interval", f"{index_field} missing on {day.isoformat()}: {shown}")

    columns = [z.value for z in MarketZone if any(z.value in r for r in records)]
    if not columns:
        p.add("zones", f"no Italian zone in the file ({', '.join(ZONE_INDEX)})")
    has_pun = any("PUN" in r for r in records)
    values: dict[str, list[Decimal]] = {}
    for column in [*columns, *(["PUN"] if has_pun else [])]:
        parsed: list[Decimal] = []
        for n in range(1, intervals + 1):
            if n not in position:
                continue
            i = position[n]
            text = records[i].get(column)
            value = parse_price_number(text) if text else None
            if value is None:
                p.add(
                    "number",
                    f"row {i + 1} ({index_field} {n}): {column} {text!r} is not a price "
                    "(decimal comma, as 112,345678)",
                )
            else:
                parsed.append(value)
        values[column] = parsed
    if p.found:
        raise PriceFileError(p.lines())
    return DayPrices(
        day=day,
        interval_minutes=15 if quarter_hour else 60,
        zones={MarketZone(c): tuple(values[c]) for c in columns},
        pun=tuple(values["PUN"]) if has_pun else None,
    )


def parse_price_zip(
    data: bytes, *, max_member_bytes: int = MAX_MEMBER_BYTES, max_members: int = MAX_MEMBERS
) -> list[DayPrices]:
    """Every XML file of a ZIP (a day's download holds one; an archive many), by day."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise PriceFileError([f"not a ZIP file: {e}"]) from e
    members = [
        m for m in archive.infolist() if not m.is_dir() and m.filename.lower().endswith(".xml")
    ]
    if not members:
        raise PriceFileError(["the ZIP holds no .xml file"])
    if len(members) > max_members:
        raise PriceFileError([f"the ZIP holds {len(members)} XML files, at most {max_members}"])
    days: list[DayPrices] = []
    problems: list[str] = []
    seen: dict[tuple[date, int], str] = {}
    for member in members:
        with archive.open(member) as f:
            # The sizes in the ZIP directory are claims: read no more than the limit allows.
            content = f.read(max_member_bytes + 1)
        if len(content) > max_member_bytes:
            problems.append(f"{member.filename}: larger than {max_member_bytes} bytes")
            continue
        try:
            day = parse_price_xml(content, member.filename)
        except PriceFileError as e:
            problems += e.problems
            continue
        key = (day.day, day.interval_minutes)
        if key in seen:
            problems.append(
                f"{member.filename}: a second {day.interval_minutes}-minute file for "
                f"{day.day.isoformat()} (first {seen[key]})"
            )
        seen[key] = member.filename
        days.append(day)
    if problems:
        raise PriceFileError(problems)
    return sorted(days, key=lambda d: (d.day, d.interval_minutes))


def hourly_zonal_prices(days: Iterable[DayPrices]) -> list[ZonalPrice]:
    """The hourly Pz per zone the rules need, one per zone and hour: from the quarter-hour file
    of a day when there is one, else from its hourly file."""
    chosen: dict[date, DayPrices] = {}
    for d in days:
        current = chosen.get(d.day)
        if current is not None and current.interval_minutes == d.interval_minutes:
            raise ValueError(f"two {d.interval_minutes}-minute price files for {d.day}")
        if current is None or d.interval_minutes < current.interval_minutes:
            chosen[d.day] = d
    out: list[ZonalPrice] = []
    for day in sorted(chosen):
        d = chosen[day]
        starts = [d.start_utc + 3600 * h for h in range(d.hours)]
        for zone, values in d.hourly().items():
            out += [ZonalPrice(zone, s, 60, v) for s, v in zip(starts, values, strict=True)]
    return out


def engine_prices(hourly: Iterable[ZonalPrice]) -> Prices:
    """The settlement engine's `Prices` from hourly zonal prices."""
    rows = [r for r in hourly if r.minutes == 60]
    return Prices(
        zone=np.array([ZONE_INDEX[r.zone.value] for r in rows], dtype=np.int64),
        hour_utc=np.array([r.start_utc for r in rows], dtype=np.int64),
        eur_mwh=np.array([float(r.eur_mwh) for r in rows], dtype=np.float64),
    )
