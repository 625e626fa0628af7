"""Dated rule parameters: the engine's built-in tables, extended by a platform admin.

Two parameters change by publication and are kept here:

* ``trase_eur_mwh`` (key ""): TRASe, the ARERA refund's tariff, by calendar year (its row is
  dated 1 January). A year in neither table fails the run with the engine's message, never a
  zero.
* ``max_eligible_cost_eur_per_kw`` (key: the power class's upper bound, 20, 200, 600 or 1000
  kW): the grant reduction's denominator, dated by the plant's entry into service.

A row here wins over the engine's for the dates it covers. Every change is audited with the
old and the new value; a run records which values it used and where each came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from cacer.parameters import (
    EXISTING_PLANT_CUTOFF,
    GRANT_REDUCTION_RULES,
    TRASE_EUR_MWH_BY_YEAR,
    in_force,
)
from cerc_shared.auth import Principal
from cerc_shared.envelope import ApiError
from cerc_shared.readmodels import PlantFacts
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from economic_service import repository
from economic_service.models import AuditRecord, RuleParameter

TRASE = "trase_eur_mwh"
MAX_ELIGIBLE_COST = "max_eligible_cost_eur_per_kw"
NAMES = (TRASE, MAX_ELIGIBLE_COST)
ENGINE = "engine"
PLATFORM = "platform"


def cost_classes() -> list[Decimal]:
    """The power classes (upper bounds, kW) of the grant reduction's cost caps."""
    rule = in_force(GRANT_REDUCTION_RULES, date.max)
    return [cap.max_power_kw for cap in rule.cost_caps]


def _key_text(kw: Decimal) -> str:
    return f"{kw.normalize():f}"


@dataclass(frozen=True)
class ParameterRow:
    name: str
    key: str
    valid_from: date
    value: Decimal
    source: str
    origin: str  # ENGINE or PLATFORM
    set_by: int | None = None


def engine_rows() -> list[ParameterRow]:
    rows = [
        ParameterRow(TRASE, "", d.valid_from, d.value, d.source, ENGINE)
        for d in TRASE_EUR_MWH_BY_YEAR.values()
    ]
    for dated in GRANT_REDUCTION_RULES:
        rows += [
            ParameterRow(
                MAX_ELIGIBLE_COST,
                _key_text(cap.max_power_kw),
                dated.valid_from,
                cap.max_eligible_cost_eur_per_kw,
                dated.source,
                ENGINE,
            )
            for cap in dated.value.cost_caps
        ]
    return rows


def _platform_row(r: RuleParameter) -> ParameterRow:
    return ParameterRow(r.name, r.key, r.valid_from, r.value, r.source, PLATFORM, r.set_by)


async def table(session: AsyncSession) -> list[ParameterRow]:
    """Every row, the engine's and the platform's; a platform row of the same name, key and
    date replaces the engine's."""
    own = {
        (r.name, r.key, r.valid_from): _platform_row(r)
        for r in await repository.rule_parameters(session)
    }
    merged = {(r.name, r.key, r.valid_from): r for r in engine_rows()} | own
    return sorted(merged.values(), key=lambda r: (r.name, r.key, r.valid_from))


def _bad(field_name: str, message: str, expected: str) -> ApiError:
    return ApiError(422, "invalid", message, field=field_name, expected=expected)


async def set_parameter(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    key: str,
    valid_from: date,
    value: Decimal,
    source: str,
) -> tuple[RuleParameter, bool]:
    """Add or change a row (platform admins only, checked by the route); (row, created)."""
    if name == TRASE:
        if key != "":
            raise _bad("key", "TRASe has no key", 'an empty key ""')
        if (valid_from.month, valid_from.day) != (1, 1):
            raise _bad("valid_from", "TRASe is set per calendar year", "1 January of the year")
        if value < 0:
            raise _bad("value", "TRASe cannot be negative", "a value >= 0 (€/MWh)")
    elif name == MAX_ELIGIBLE_COST:
        classes = [_key_text(kw) for kw in cost_classes()]
        if key not in classes:
            raise _bad("key", f"{key!r} is not a power class", " or ".join(classes) + " (kW)")
        if value <= 0:
            raise _bad("value", "the maximum eligible cost must be positive", "a value > 0 (€/kW)")
    else:
        raise _bad("name", f"{name!r} is not a rule parameter kept here", " or ".join(NAMES))
    if not source.strip():
        raise _bad("source", "say where the value was published", "a decree or tariff reference")
    existing = await repository.rule_parameter(session, name, key, valid_from, lock=True)
    old: str | None = str(existing.value) if existing is not None else None
    if existing is None:
        engine_value = next(
            (
                r.value
                for r in engine_rows()
                if (r.name, r.key, r.valid_from) == (name, key, valid_from)
            ),
            None,
        )
        old = None if engine_value is None else f"{engine_value} (engine)"
        existing = RuleParameter(
            name=name, key=key, valid_from=valid_from, value=value, source=source,
            set_by=principal.user_id,
        )  # fmt: skip
        try:
            # Two admins adding the same row at once both find none (FOR UPDATE locks no
            # row that is not there yet): the second insert meets the first on the key.
            async with session.begin_nested():
                session.add(existing)
                await session.flush()
        except IntegrityError as exc:
            raise ApiError(
                409, "conflict",
                f"{name} {key or ''} from {valid_from} was just added by someone else; "
                "read it and send the change again",
                field="valid_from",
            ) from exc  # fmt: skip
        created = True
    else:
        existing.value = value
        existing.source = source
        existing.set_by = principal.user_id
        created = False
    session.add(
        AuditRecord(
            community_id=None,
            actor_user_id=principal.user_id,
            action="parameter.set",
            details={
                "name": name,
                "key": key,
                "valid_from": valid_from.isoformat(),
                "old": old,
                "new": str(value),
                "source": source,
            },
        )
    )
    await session.flush()
    await session.refresh(existing)
    return existing, created


@dataclass
class ParametersInForce:
    """What a run of one month passes to the engine, and the record of it."""

    trase_eur_mwh: Decimal | None  # None: the engine's own table has the year
    cost_cap_by_plant: dict[int, Decimal] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)


def _latest(rows: list[ParameterRow], on: date) -> ParameterRow | None:
    chosen = None
    for row in sorted(rows, key=lambda r: r.valid_from):
        if row.valid_from <= on:
            chosen = row
    return chosen


async def in_force_for(
    session: AsyncSession, month_start: date, plants: Mapping[int, PlantFacts]
) -> ParametersInForce:
    rows = await table(session)
    year = month_start.year
    trase_rows = [r for r in rows if r.name == TRASE and r.valid_from.year == year]
    trase = trase_rows[-1] if trase_rows else None
    record: dict[str, Any] = {
        TRASE: None
        if trase is None
        else {"value": str(trase.value), "origin": trase.origin, "source": trase.source},
    }
    out = ParametersInForce(
        trase_eur_mwh=trase.value if trase is not None and trase.origin == PLATFORM else None,
        record=record,
    )
    caps: dict[str, dict[str, Any]] = {}
    classes = cost_classes()
    for plant_id, facts in sorted(plants.items()):
        grant = facts.capital_grant_eur_per_kw or Decimal(0)
        if grant == 0 or facts.nominal_power_kw is None or facts.entry_into_service is None:
            continue
        power_class = next((kw for kw in classes if facts.nominal_power_kw <= kw), None)
        if power_class is None:
            continue  # above every class: over 1 MW, no TIP at all
        on = max(facts.entry_into_service, EXISTING_PLANT_CUTOFF)
        row = _latest(
            [r for r in rows if r.name == MAX_ELIGIBLE_COST and r.key == _key_text(power_class)], on
        )
        if row is None:
            continue
        if row.origin == PLATFORM:
            out.cost_cap_by_plant[plant_id] = row.value
        caps[facts.pod] = {
            "value": str(row.value),
            "origin": row.origin,
            "class_kw": _key_text(power_class),
        }
    if caps:
        record[MAX_ELIGIBLE_COST] = caps
    return out
