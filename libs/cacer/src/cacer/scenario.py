"""The settlement's input: typed model, parsing of the JSON document, and validation.

Two layers, so that services can build a `Scenario` from their own stores without JSON:
- `parse_scenario(document)` checks the document's shape and types and builds a `Scenario`;
- `check_scenario(scenario)` checks the rules a typed scenario must obey (identifiers, references,
  readings inside the period and not overlapping, shares summing to 1, TRASe available...).
`parse_scenario` runs both; `settle` runs the second again, because typed inputs may come from
anywhere. Every problem names the JSON path it comes from, as `readings[12].fed_in_kwh`.
Readings are held as numpy arrays, indexed like the document's `readings` list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from itertools import chain
from operator import methodcaller
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from cacer.hours import INTERVAL_SECONDS, HourGrid
from cacer.parameters import (
    READING_INTERVALS_MINUTES,
    REGIONS,
    TRASE_EUR_MWH_BY_YEAR,
    MarketZone,
    Technology,
)

POD_PATTERN = re.compile(r"IT\d{3}E\d{8}[A-Z]?")
#: Substation codes are opaque (GSE map codes such as AC001E01234): checked only for shape.
SUBSTATION_PATTERN = re.compile(r"[A-Z0-9]{4,20}")
SHARES_TOLERANCE = Decimal("1e-9")
#: Problems of one kind beyond this many are summarised in one line, to keep stderr readable.
MAX_PROBLEMS_PER_CHECK = 20

ZONES: tuple[MarketZone, ...] = tuple(MarketZone)
ZONE_INDEX: Mapping[str, int] = {z.value: i for i, z in enumerate(ZONES)}


def _region_key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


_REGION_BY_KEY: Mapping[str, str] = {_region_key(r): r for r in REGIONS}


def canonical_region(name: str) -> str | None:
    """Region name as in `parameters.REGIONS`, tolerant of case, spaces, hyphens, apostrophes."""
    return _REGION_BY_KEY.get(_region_key(name))


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ScenarioError(ValueError):
    """The scenario cannot be settled; `problems` lists every reason found, each with its path."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Period:
    """Italian local dates, `end` exclusive."""

    start: date
    end: date


@dataclass(frozen=True)
class Member:
    id: str
    enterprise: bool = False
    public_body: bool = False  # local authority, religious, third-sector or environmental body


@dataclass(frozen=True)
class Plant:
    power_kw: Decimal
    technology: Technology
    region: str
    entry_into_service: date
    capital_grant_eur_per_kw: Decimal = Decimal(0)
    # The maximum eligible cost €/kW of the grant reduction when the caller's dated table says
    # otherwise than the built-in one (parameters.GRANT_REDUCTION_RULES); None: the built-in.
    max_eligible_cost_eur_per_kw: Decimal | None = None


@dataclass(frozen=True)
class Point:
    """A withdrawal point (POD); with a `plant` it also feeds in."""

    pod: str
    member: str
    substation: str
    zone: MarketZone
    plant: Plant | None = None


@dataclass(frozen=True)
class Shares:
    producers: Decimal
    consumers: Decimal
    community: Decimal


@dataclass(frozen=True, eq=False)
class Readings:
    """Meter readings as parallel arrays; `point` indexes `Scenario.points`."""

    point: NDArray[np.int64]
    start_utc: NDArray[np.int64]
    minutes: NDArray[np.int64]
    fed_in_kwh: NDArray[np.float64]
    withdrawn_kwh: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.point)


@dataclass(frozen=True, eq=False)
class Prices:
    """Hourly zonal prices Pz; `zone` indexes `ZONES`; hours outside the period are ignored."""

    zone: NDArray[np.int64]
    hour_utc: NDArray[np.int64]
    eur_mwh: NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Scenario:
    period: Period
    members: tuple[Member, ...]
    points: tuple[Point, ...]
    prices: Prices
    readings: Readings
    distribution: Shares
    trase_eur_mwh: Decimal | None = None  # None: the table value of each year


# ----------------------------------------------------------------------------------------------
# Checks on a typed scenario


def check_scenario(s: Scenario) -> list[Problem]:
    problems: list[Problem] = []
    if s.period.end <= s.period.start:
        problems.append(Problem("period.end", "must be after period.start"))
        return problems
    problems += _check_members_and_points(s.members, s.points)
    problems += _check_shares(s.distribution)
    problems += _check_trase(s)
    problems += _check_readings(s)
    problems += _check_prices(s)
    return problems


def _check_members_and_points(members: Sequence[Member], points: Sequence[Point]) -> list[Problem]:
    problems: list[Problem] = []
    seen_members: set[str] = set()
    for i, m in enumerate(members):
        if not m.id:
            problems.append(Problem(f"members[{i}].id", "must not be empty"))
        elif m.id in seen_members:
            problems.append(Problem(f"members[{i}].id", f"duplicate member id {m.id!r}"))
        seen_members.add(m.id)
    seen_pods: dict[str, int] = {}
    zone_of_substation: dict[str, tuple[MarketZone, int]] = {}
    for i, p in enumerate(points):
        if not POD_PATTERN.fullmatch(p.pod):
            problems.append(
                Problem(
                    f"points[{i}].pod", f"{p.pod!r} is not a POD (IT + 3 digits + E + 8 digits)"
                )
            )
        if p.pod in seen_pods:
            problems.append(
                Problem(f"points[{i}].pod", f"duplicate POD, already points[{seen_pods[p.pod]}]")
            )
        seen_pods.setdefault(p.pod, i)
        if p.member not in seen_members:
            problems.append(Problem(f"points[{i}].member", f"unknown member {p.member!r}"))
        if not SUBSTATION_PATTERN.fullmatch(p.substation):
            problems.append(
                Problem(f"points[{i}].substation", f"{p.substation!r} is not a substation code")
            )
        zone, first = zone_of_substation.setdefault(p.substation, (p.zone, i))
        if zone != p.zone:
            problems.append(
                Problem(
                    f"points[{i}].zone",
                    f"substation {p.substation} is in zone {zone} (points[{first}])",
                )
            )
        if p.plant is not None:
            problems += _check_plant(p.plant, f"points[{i}].plant")
    return problems


def _check_plant(plant: Plant, path: str) -> list[Problem]:
    problems: list[Problem] = []
    if not plant.power_kw > 0:
        problems.append(Problem(f"{path}.power_kw", "must be > 0"))
    if plant.capital_grant_eur_per_kw < 0:
        problems.append(Problem(f"{path}.capital_grant_eur_per_kw", "must be >= 0"))
    cost_cap = plant.max_eligible_cost_eur_per_kw
    if cost_cap is not None and not cost_cap > 0:
        problems.append(Problem(f"{path}.max_eligible_cost_eur_per_kw", "must be > 0"))
    if plant.region not in REGIONS:
        problems.append(Problem(f"{path}.region", f"unknown region {plant.region!r}"))
    return problems


def _check_shares(shares: Shares) -> list[Problem]:
    problems = [
        Problem(f"distribution.{name}", "must be between 0 and 1")
        for name, value in vars(shares).items()
        if not Decimal(0) <= value <= Decimal(1)
    ]
    total = shares.producers + shares.consumers + shares.community
    if abs(total - 1) > SHARES_TOLERANCE:
        problems.append(Problem("distribution", f"shares must sum to 1, they sum to {total}"))
    return problems


def _check_trase(s: Scenario) -> list[Problem]:
    if s.trase_eur_mwh is not None:
        if s.trase_eur_mwh < 0:
            return [Problem("trase_eur_mwh", "must be >= 0")]
        return []
    years = np.unique(HourGrid.for_period(s.period.start, s.period.end).local_years())
    return [
        Problem("trase_eur_mwh", f"no TRASe value for {y} in the table; pass trase_eur_mwh")
        for y in years.tolist()
        if y not in TRASE_EUR_MWH_BY_YEAR
    ]


def _indexed(
    path: str, mask: NDArray[np.bool_], message: str | Callable[[int], str]
) -> list[Problem]:
    """One problem per flagged index, summarised beyond `MAX_PROBLEMS_PER_CHECK`."""
    where = np.flatnonzero(mask)
    problems = [
        Problem(path.format(i), message if isinstance(message, str) else message(i))
        for i in where[:MAX_PROBLEMS_PER_CHECK].tolist()
    ]
    if len(where) > MAX_PROBLEMS_PER_CHECK:
        more = len(where) - MAX_PROBLEMS_PER_CHECK
        problems.append(Problem(path.format("*"), f"{more} more with the same problem"))
    return problems


def _check_readings(s: Scenario) -> list[Problem]:
    r = s.readings
    n = len(r)
    if n == 0:
        # A month with no data is not a month that earned nothing: settling it to zero would
        # hide a missing import.
        return [Problem("readings", "no readings in the period: there is nothing to settle")]
    lengths = {len(a) for a in (r.start_utc, r.minutes, r.fed_in_kwh, r.withdrawn_kwh)}
    if lengths != {n}:
        return [Problem("readings", "reading arrays have different lengths")]
    problems: list[Problem] = []
    bad_point = (r.point < 0) | (r.point >= len(s.points))
    problems += _indexed("readings[{}].pod", bad_point, "unknown point")
    intervals_present = [m for m in sorted(READING_INTERVALS_MINUTES) if (r.minutes == m).any()]
    bad_minutes = np.ones(n, dtype=bool)
    for m in intervals_present:
        bad_minutes &= r.minutes != m
    allowed = " or ".join(str(m) for m in sorted(READING_INTERVALS_MINUTES))
    problems += _indexed("readings[{}].minutes", bad_minutes, f"must be {allowed}")
    seconds = r.minutes * 60 if not bad_minutes.any() else np.where(bad_minutes, 60, r.minutes) * 60
    problems += _indexed(
        "readings[{}].start",
        r.start_utc % seconds != 0,
        "must start on a boundary of its interval",
    )
    grid = HourGrid.for_period(s.period.start, s.period.end)
    outside = (r.start_utc < grid.start_utc) | (r.start_utc + seconds > grid.end_utc)
    problems += _indexed("readings[{}].start", outside, "outside the period")
    for field in ("fed_in_kwh", "withdrawn_kwh"):
        values: NDArray[np.float64] = getattr(r, field)
        finite = np.isfinite(values)
        problems += _indexed(f"readings[{{}}].{field}", ~finite, "must be a finite number")
        problems += _indexed(f"readings[{{}}].{field}", finite & (values < 0), "must be >= 0")
    if problems:
        return problems
    has_plant = np.array([p.plant is not None for p in s.points], dtype=bool)
    problems += _indexed(
        "readings[{}].fed_in_kwh",
        (r.fed_in_kwh > 0) & ~has_plant[r.point],
        "must be 0: the point has no plant",
    )
    problems += _overlaps(s, grid, seconds, intervals_present)
    return problems


def _overlaps(
    s: Scenario, grid: HourGrid, seconds: NDArray[np.int64], intervals: list[int]
) -> list[Problem]:
    """Readings of one POD covering the same instant, found on a grid of the finest interval."""
    r = s.readings
    if len(r) == 0:
        return []
    step = math.gcd(*(m * 60 for m in intervals))
    slots_per_point = (grid.end_utc - grid.start_utc) // step
    first_slot = r.point * slots_per_point + (r.start_utc - grid.start_utc) // step
    width = seconds // step
    if len(intervals) == 1:
        owner = np.arange(len(r))
        slots = first_slot
    else:
        owner = np.repeat(np.arange(len(r)), width)
        offsets = np.arange(len(owner)) - np.repeat(np.cumsum(width) - width, width)
        slots = first_slot[owner] + offsets
    # Readings usually arrive sorted by POD and time; then strictly increasing slots prove it.
    if len(slots) < 2 or bool(np.all(slots[1:] > slots[:-1])):
        return []
    order = np.argsort(slots, kind="stable")
    ordered = slots[order]
    dup = np.flatnonzero(ordered[1:] == ordered[:-1])
    pairs: dict[int, int] = {}
    for k in dup.tolist():
        earlier, later = sorted((int(owner[order[k]]), int(owner[order[k + 1]])))
        if earlier != later:
            pairs.setdefault(later, earlier)
    mask = np.zeros(len(r), dtype=bool)
    mask[list(pairs)] = True
    return _indexed(
        "readings[{}].start",
        mask,
        lambda i: f"overlaps readings[{pairs[i]}] of the same POD",
    )


def _check_prices(s: Scenario) -> list[Problem]:
    p = s.prices
    problems: list[Problem] = []
    problems += _indexed("prices[{}].zone", (p.zone < 0) | (p.zone >= len(ZONES)), "unknown zone")
    problems += _indexed(
        "prices[{}].hour", p.hour_utc % INTERVAL_SECONDS != 0, "must be the start of an hour"
    )
    problems += _indexed("prices[{}].eur_mwh", ~np.isfinite(p.eur_mwh), "must be a finite number")
    if problems or len(p.zone) < 2:
        return problems
    key = p.zone * (1 << 40) + p.hour_utc
    order = np.argsort(key, kind="stable")
    dup = np.zeros(len(key), dtype=bool)
    dup[order[1:][key[order][1:] == key[order][:-1]]] = True
    return _indexed("prices[{}]", dup, "duplicate price for this zone and hour")


# ----------------------------------------------------------------------------------------------
# Parsing the JSON document

_MEMBER_KEYS = frozenset({"id", "enterprise", "public_body"})
_POINT_KEYS = frozenset({"pod", "member", "substation", "zone", "plant"})
_PLANT_KEYS = frozenset(
    {
        "power_kw",
        "technology",
        "region",
        "entry_into_service",
        "capital_grant_eur_per_kw",
        "max_eligible_cost_eur_per_kw",
    }
)
_READING_KEYS = frozenset({"pod", "start", "minutes", "fed_in_kwh", "withdrawn_kwh"})
_PRICE_KEYS = frozenset({"zone", "hour", "eur_mwh"})
_TOP_KEYS = frozenset(
    {"period", "trase_eur_mwh", "members", "points", "prices", "readings", "distribution"}
)
_SHARE_KEYS = ("producers", "consumers", "community")

V = TypeVar("V")


class _Collector:
    """Accumulates problems while parsing; getters return None when a value is unusable."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def obj(self, value: Any, path: str, keys: frozenset[str]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(path, "must be an object")
            return None
        for k in value.keys() - keys:
            self.add(f"{path}.{k}", "unknown field")
        return value

    def each(self, path: str, where: Iterable[int], message: str | Callable[[int], str]) -> None:
        """One problem per index in `where` (`path` has a `{}` for it), summarised beyond
        `MAX_PROBLEMS_PER_CHECK` as the checks on a typed scenario do."""
        where = list(where)
        for i in where[:MAX_PROBLEMS_PER_CHECK]:
            self.add(path.format(i), message if isinstance(message, str) else message(i))
        if len(where) > MAX_PROBLEMS_PER_CHECK:
            more = len(where) - MAX_PROBLEMS_PER_CHECK
            self.add(path.format("*"), f"{more} more with the same problem")

    def array(self, value: Any, path: str) -> list[Any] | None:
        if not isinstance(value, list):
            self.add(path, "must be an array")
            return None
        return value

    def required(self, o: dict[str, Any], key: str, path: str) -> Any:
        if key not in o:
            self.add(key if path == "$" else f"{path}.{key}", "is required")
        return o.get(key)

    def string(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not value:
            self.add(path, "must be a non-empty string")
            return None
        return value

    def boolean(self, value: Any, path: str) -> bool | None:
        if not isinstance(value, bool):
            self.add(path, "must be true or false")
            return None
        return value

    def decimal(self, value: Any, path: str) -> Decimal | None:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.add(path, "must be a number")
            return None
        try:
            # repr() of a JSON float is its shortest decimal, i.e. what the file said.
            d = Decimal(repr(value) if isinstance(value, float) else value)
        except InvalidOperation:
            d = Decimal("NaN")
        if not d.is_finite():
            self.add(path, "must be a finite number")
            return None
        return d

    def day(self, value: Any, path: str) -> date | None:
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.add(path, "must be a date YYYY-MM-DD")
        return None

    def choice(self, value: Any, path: str, options: Iterable[str]) -> str | None:
        options = list(options)
        if not isinstance(value, str) or value.upper() not in options:
            self.add(path, f"unknown value {value!r}; one of {', '.join(options)}")
            return None
        return value.upper()


def parse_instant(text: str) -> int | None:
    """Epoch seconds of an ISO-8601 instant that carries its UTC offset, on a whole minute."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None or dt.second or dt.microsecond:
        return None
    return int(dt.timestamp())


def parse_scenario(document: Any) -> Scenario:
    """Build a `Scenario` from the JSON document (already decoded); raise `ScenarioError`."""
    c = _Collector()
    doc = c.obj(document, "$", _TOP_KEYS)
    if doc is None:
        raise ScenarioError(c.problems)

    period = _parse_period(c, c.required(doc, "period", "$"))
    trase: Decimal | None = None
    if doc.get("trase_eur_mwh") is not None:
        trase = c.decimal(doc["trase_eur_mwh"], "trase_eur_mwh")
    members = _parse_list(c, doc, "members", _parse_member)
    points = _parse_list(c, doc, "points", _parse_point)
    shares = _parse_shares(c, c.required(doc, "distribution", "$"))
    if members is not None and points is not None:
        # Identifier and reference problems first: they explain most reading problems after.
        c.problems += _check_members_and_points(members, points)
    readings = _parse_readings(
        c, c.required(doc, "readings", "$"), _pods_named_by_points(doc.get("points"))
    )
    prices = _parse_prices(c, c.required(doc, "prices", "$"))
    if (
        c.problems
        or period is None
        or members is None
        or points is None
        or shares is None
        or readings is None
        or prices is None
    ):
        raise ScenarioError(c.problems)
    scenario = Scenario(
        period=period,
        members=tuple(members),
        points=tuple(points),
        prices=prices,
        readings=readings,
        distribution=shares,
        trase_eur_mwh=trase,
    )
    problems = check_scenario(scenario)
    if problems:
        raise ScenarioError(problems)
    return scenario


def _parse_list(
    c: _Collector,
    doc: dict[str, Any],
    key: str,
    parse_item: Callable[[_Collector, Any, str], V | None],
) -> list[V] | None:
    value = c.required(doc, key, "$")
    raw = c.array(value, key) if value is not None else None
    if raw is None:
        return None
    items = [parse_item(c, item, f"{key}[{i}]") for i, item in enumerate(raw)]
    return [x for x in items if x is not None] if len(items) == len(raw) else None


def _pods_named_by_points(raw: Any) -> dict[str, int] | None:
    """Each POD the document's points name, with the point's position, including points with a
    bad field elsewhere: their readings are not "unknown", so one bad field stays one problem.
    None when there are no points to look at: the readings' PODs cannot be checked then."""
    if not isinstance(raw, list):
        return None
    pods: dict[str, int] = {}
    for i, item in enumerate(raw):
        pod = item.get("pod") if isinstance(item, dict) else None
        if isinstance(pod, str) and pod.strip():
            pods.setdefault(pod.strip().upper(), i)
    return pods


def _parse_period(c: _Collector, value: Any) -> Period | None:
    o = c.obj(value, "period", frozenset({"start", "end"}))
    if o is None:
        return None
    start = c.day(c.required(o, "start", "period"), "period.start")
    end = c.day(c.required(o, "end", "period"), "period.end")
    return Period(start, end) if start and end else None


def _parse_member(c: _Collector, value: Any, path: str) -> Member | None:
    o = c.obj(value, path, _MEMBER_KEYS)
    if o is None:
        return None
    mid = c.string(c.required(o, "id", path), f"{path}.id")
    enterprise = c.boolean(o.get("enterprise", False), f"{path}.enterprise")
    public = c.boolean(o.get("public_body", False), f"{path}.public_body")
    if mid is None or enterprise is None or public is None:
        return None
    return Member(mid, enterprise, public)


def _parse_point(c: _Collector, value: Any, path: str) -> Point | None:
    o = c.obj(value, path, _POINT_KEYS)
    if o is None:
        return None
    pod = c.string(c.required(o, "pod", path), f"{path}.pod")
    member = c.string(c.required(o, "member", path), f"{path}.member")
    substation = c.string(c.required(o, "substation", path), f"{path}.substation")
    zone = c.choice(c.required(o, "zone", path), f"{path}.zone", ZONE_INDEX)
    plant = _parse_plant(c, o["plant"], f"{path}.plant") if o.get("plant") is not None else None
    if pod is None or member is None or substation is None or zone is None:
        return None
    if o.get("plant") is not None and plant is None:
        return None
    return Point(pod.strip().upper(), member, substation.strip().upper(), MarketZone(zone), plant)


def _parse_plant(c: _Collector, value: Any, path: str) -> Plant | None:
    o = c.obj(value, path, _PLANT_KEYS)
    if o is None:
        return None
    power = c.decimal(c.required(o, "power_kw", path), f"{path}.power_kw")
    tech = c.choice(c.required(o, "technology", path), f"{path}.technology", Technology)
    region_raw = c.string(c.required(o, "region", path), f"{path}.region")
    region = canonical_region(region_raw) if region_raw else None
    if region_raw is not None and region is None:
        c.add(f"{path}.region", f"unknown region {region_raw!r}")
    entry = c.day(c.required(o, "entry_into_service", path), f"{path}.entry_into_service")
    grant = c.decimal(o.get("capital_grant_eur_per_kw", 0), f"{path}.capital_grant_eur_per_kw")
    cost_cap = None
    if o.get("max_eligible_cost_eur_per_kw") is not None:
        cost_cap = c.decimal(
            o["max_eligible_cost_eur_per_kw"], f"{path}.max_eligible_cost_eur_per_kw"
        )
        if cost_cap is None:
            return None
    if power is None or tech is None or region is None or entry is None or grant is None:
        return None
    return Plant(power, Technology(tech), region, entry, grant, cost_cap)


def _parse_shares(c: _Collector, value: Any) -> Shares | None:
    o = c.obj(value, "distribution", frozenset(_SHARE_KEYS))
    if o is None:
        return None
    values = [c.decimal(c.required(o, k, "distribution"), f"distribution.{k}") for k in _SHARE_KEYS]
    if any(v is None for v in values):
        return None
    producers, consumers, community = (v for v in values if v is not None)
    return Shares(producers, consumers, community)


def _types(column: Iterable[Any]) -> set[type]:
    return set(map(type, column))


def _number_column(c: _Collector, column: list[Any], path: str) -> NDArray[np.float64] | None:
    if _types(column) <= {int, float}:
        return np.array(column, dtype=np.float64)
    c.each(
        path,
        (i for i, x in enumerate(column) if isinstance(x, bool) or not isinstance(x, int | float)),
        "must be a number",
    )
    return None


def _parse_readings(
    c: _Collector, value: Any, pod_index: Mapping[str, int] | None
) -> Readings | None:
    raw = c.array(value, "readings")
    if raw is None:
        return None
    # Column-wise, with map() and set() doing the per-reading work in C: a document may hold
    # millions of readings. Only when something is wrong does a per-reading loop find where.
    if (_types(raw) != {dict} and raw) or not set(
        chain.from_iterable(r for r in raw if isinstance(r, dict))
    ) <= _READING_KEYS:
        c.each(
            "readings[{}]",
            (i for i, r in enumerate(raw) if not isinstance(r, dict)),
            "must be an object",
        )
        for key in sorted(set(chain.from_iterable(r for r in raw if isinstance(r, dict)))):
            if key not in _READING_KEYS:
                c.each(
                    f"readings[{{}}].{key}",
                    (i for i, r in enumerate(raw) if isinstance(r, dict) and key in r),
                    "unknown field",
                )
        return None
    problems_before = len(c.problems)
    columns: dict[str, list[Any]] = {}
    for key in ("pod", "start", "minutes"):
        columns[key] = list(map(methodcaller("get", key), raw))
        if None in columns[key]:
            c.each(
                f"readings[{{}}].{key}",
                (i for i, x in enumerate(columns[key]) if x is None),
                "is required",
            )
    if len(c.problems) > problems_before:
        return None

    pods = columns["pod"]
    if pod_index is None:
        # No usable points (already a problem): every POD would be "unknown", which says nothing.
        pod_index = {}
        point: list[int | None] = [0] * len(pods)
    elif _types(pods) == {str}:
        point = list(map(pod_index.get, pods))
    else:
        point = [None] * len(pods)
    if None in point:
        unknown = []
        for i in [i for i, x in enumerate(point) if x is None]:
            p = pods[i]
            up = p.strip().upper() if isinstance(p, str) else None
            if up is not None and up in pod_index:
                point[i] = pod_index[up]
            else:
                unknown.append(i)
        c.each("readings[{}].pod", unknown, lambda i: f"unknown POD {pods[i]!r}")

    starts = columns["start"]
    if _types(starts) == {str}:
        instants = {text: parse_instant(text) for text in set(starts)}
        start_utc = list(map(instants.__getitem__, starts))
    else:
        start_utc = [parse_instant(x) if isinstance(x, str) else None for x in starts]
    if None in start_utc:
        c.each(
            "readings[{}].start",
            (i for i, x in enumerate(start_utc) if x is None),
            "must be an ISO-8601 instant with its UTC offset, whole minutes",
        )

    minutes = columns["minutes"]
    if _types(minutes) != {int}:
        c.each(
            "readings[{}].minutes",
            (i for i, m in enumerate(minutes) if type(m) is not int),
            "must be an integer",
        )
    fed = _number_column(
        c, list(map(methodcaller("get", "fed_in_kwh", 0), raw)), "readings[{}].fed_in_kwh"
    )
    wd = _number_column(
        c, list(map(methodcaller("get", "withdrawn_kwh", 0), raw)), "readings[{}].withdrawn_kwh"
    )
    if len(c.problems) > problems_before or fed is None or wd is None:
        return None
    return Readings(
        point=np.array(point, dtype=np.int64),
        start_utc=np.array(start_utc, dtype=np.int64),
        minutes=np.array(minutes, dtype=np.int64),
        fed_in_kwh=fed,
        withdrawn_kwh=wd,
    )


def _parse_prices(c: _Collector, value: Any) -> Prices | None:
    raw = c.array(value, "prices")
    if raw is None:
        return None
    zone: list[int] = []
    hour: list[int] = []
    eur: list[float] = []
    ok = True
    for i, item in enumerate(raw):
        path = f"prices[{i}]"
        o = c.obj(item, path, _PRICE_KEYS)
        if o is None:
            ok = False
            continue
        z = c.choice(c.required(o, "zone", path), f"{path}.zone", ZONE_INDEX)
        h_raw = c.required(o, "hour", path)
        h = parse_instant(h_raw) if isinstance(h_raw, str) else None
        if h is None and h_raw is not None:
            c.add(f"{path}.hour", "must be an ISO-8601 instant with its UTC offset")
        price = c.required(o, "eur_mwh", path)
        # JSON numbers from a file, a decimal string (what a service that keeps prices as
        # Decimal writes, so no binary float stands between its table and the engine), or
        # Decimal from an in-process caller; either way prices are quantised to the
        # micro-euro before any money is made.
        if isinstance(price, str):
            price = c.decimal(price, f"{path}.eur_mwh")
        elif isinstance(price, bool) or not isinstance(price, int | float | Decimal):
            if price is not None:
                c.add(f"{path}.eur_mwh", "must be a number")
            price = None
        if z is None or h is None or price is None:
            ok = False
            continue
        zone.append(ZONE_INDEX[z])
        hour.append(h)
        eur.append(float(price))
    if not ok:
        return None
    return Prices(
        np.array(zone, dtype=np.int64), np.array(hour, dtype=np.int64), np.array(eur, dtype=float)
    )
