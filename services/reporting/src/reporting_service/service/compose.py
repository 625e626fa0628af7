"""The three kinds of report, composed from the figures (pure: no I/O).

Energy by day and hour comes from the energy service's POD hours; money,
members' parts and the settled energy from the settlement run each month is
reported from; who is who from the registry read model. Every money figure
is a sum of the run's own cents, so the tables add up to the settlement's
totals to the cent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from cerc_shared.clock import ITALY
from cerc_shared.readmodels import MembershipPeriod, PlantStay

from reporting_service.figures import (
    EnergyDay,
    EnergyMonth,
    MemberPart,
    ReportedRun,
    Transaction,
)
from reporting_service.render.document import (
    Cell,
    Chart,
    Document,
    Energy,
    Money,
    Percent,
    Section,
    Table,
)
from reporting_service.render.i18n import t


@dataclass(frozen=True)
class CommunityContext:
    """What the registry read model says of the community over the period."""

    community_id: int
    name: str
    code: str
    stays: list[PlantStay]
    memberships: list[MembershipPeriod]


def previous_month(month: str) -> str:
    year, m = int(month[:4]), int(month[5:])
    return f"{year - 1}-12" if m == 1 else f"{year}-{m - 1:02d}"


def year_before(month: str) -> str:
    return f"{int(month[:4]) - 1}{month[4:]}"


def _member_label(user_id: int, memberships: Iterable[MembershipPeriod], language: str) -> str:
    kinds = {
        m.member_type
        for m in memberships
        if m.user_id == user_id and m.member_type and m.member_type != "PRIVATE"
    }
    suffix = f" ({', '.join(sorted(kinds)).lower()})" if kinds else ""
    return f"{t(language, 'member')} #{user_id}{suffix}"


@dataclass
class _EnergyFigures:
    days: dict[date, list[int]]  # [fed_in, withdrawn, shared] in Wh
    hours_of_day: list[list[int]]  # 24 x [fed_in, withdrawn, shared]
    sources: dict[str, int]  # pod-hours per source
    totals: list[int]


def _energy(
    energy: EnergyMonth, substation_of: dict[str, str], pods: set[str] | None
) -> _EnergyFigures:
    """Sum the POD hours by local day and hour of day; shared energy is, each
    hour and primary substation, the lesser of fed-in and withdrawn."""
    by_hour: dict[tuple[datetime, str], list[int]] = defaultdict(lambda: [0, 0])
    sources: dict[str, int] = defaultdict(int)
    for pod, hours in energy.pods.items():
        if pods is not None and pod not in pods:
            continue
        substation = substation_of.get(pod, "")
        for h in hours:
            cell = by_hour[(h.start, substation)]
            cell[0] += h.fed_in_wh
            cell[1] += h.withdrawn_wh
            sources[h.source] += 1
    days: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
    hours_of_day = [[0, 0, 0] for _ in range(24)]
    for (start, _), (fed, withdrawn) in by_hour.items():
        local = start.astimezone(ITALY)
        shared = min(fed, withdrawn)
        for target in (days[local.date()], hours_of_day[local.hour]):
            target[0] += fed
            target[1] += withdrawn
            target[2] += shared
    totals = [sum(d[i] for d in days.values()) for i in range(3)]
    return _EnergyFigures(dict(sorted(days.items())), hours_of_day, dict(sources), totals)


def _energy_section(
    language: str, figures: _EnergyFigures, title: str, charts: bool = True
) -> Section:
    names = [t(language, "fed_in"), t(language, "withdrawn"), t(language, "shared")]
    kwh_unit = t(language, "kwh")
    columns = [f"{name} ({kwh_unit})" for name in names]
    day_rows: list[list[Cell]] = [
        [d, Energy(v[0]), Energy(v[1]), Energy(v[2])] for d, v in figures.days.items()
    ]
    hour_rows: list[list[Cell]] = [
        [f"{h:02d}:00", Energy(v[0]), Energy(v[1]), Energy(v[2])]
        for h, v in enumerate(figures.hours_of_day)
    ]
    total: list[Cell] = [t(language, "total"), *(Energy(v) for v in figures.totals)]
    section = Section(
        title=title,
        facts=[(name, Energy(v)) for name, v in zip(names, figures.totals, strict=True)],
        notes=[t(language, "shared_note")],
        tables=[
            Table(
                "energy_by_day",
                t(language, "by_day"),
                [t(language, "day"), *columns],
                day_rows,
                total,
            ),
            Table(
                "energy_by_hour",
                t(language, "by_hour"),
                [t(language, "hour"), *columns],
                hour_rows,
                total,
            ),
        ],
    )
    if charts:
        section.charts = [
            Chart(
                t(language, "by_day"),
                "bar",
                [f"{d.day}" for d in figures.days],
                {n: [v[i] / 1000 for v in figures.days.values()] for i, n in enumerate(names)},
                kwh_unit,
            ),
            Chart(
                t(language, "by_hour"),
                "line",
                [f"{h}" for h in range(24)],
                {n: [v[i] / 1000 for v in figures.hours_of_day] for i, n in enumerate(names)},
                kwh_unit,
            ),
        ]
    return section


def _coverage_section(language: str, figures: _EnergyFigures, energy: EnergyMonth) -> Section:
    count = sum(figures.sources.values())
    rows: list[list[Cell]] = [
        [source, n, Percent((100 * n / count) if count else 0)]  # type: ignore[arg-type]
        for source, n in sorted(figures.sources.items())
    ]
    return Section(
        title=t(language, "coverage"),
        facts=[
            (
                t(language, "official_complete"),
                t(language, "yes") if energy.official_complete else t(language, "no"),
            )
        ],
        tables=[
            Table(
                "coverage",
                t(language, "coverage"),
                [t(language, "source"), t(language, "hours"), t(language, "share")],
                rows,
                [t(language, "total"), count, Percent(100 if count else 0)],  # type: ignore[arg-type]
            )
        ],
    )


def _money_rows(language: str, run: ReportedRun) -> list[tuple[str, Cell]]:
    to_members = sum(m.cents for m in run.members)
    return [
        (t(language, "incentive"), Money(run.incentive_cents)),
        (t(language, "refund"), Money(run.refund_cents)),
        (t(language, "total"), Money(run.total_cents)),
        (t(language, "excess"), Money(run.excess_cents)),
        (t(language, "community_fund"), Money(run.community_cents)),
        (t(language, "members"), Money(to_members)),
    ]


def _members_table(
    language: str, members: list[MemberPart], memberships: list[MembershipPeriod]
) -> Table:
    rows: list[list[Cell]] = [
        [
            _member_label(m.user_id, memberships, language),
            Energy(m.producer_shared_wh),
            Energy(m.contribution_wh),
            Money(m.as_producer_cents),
            Money(m.as_consumer_cents),
            Money(m.cents),
        ]
        for m in members
    ]
    total: list[Cell] = [
        t(language, "total"),
        Energy(sum(m.producer_shared_wh for m in members)),
        Energy(sum(m.contribution_wh for m in members)),
        Money(sum(m.as_producer_cents for m in members)),
        Money(sum(m.as_consumer_cents for m in members)),
        Money(sum(m.cents for m in members)),
    ]
    columns = [
        t(language, "member"),
        t(language, "producer_shared"),
        t(language, "contribution"),
        t(language, "as_producer"),
        t(language, "as_consumer"),
        t(language, "total"),
    ]
    return Table("members", t(language, "members"), columns, rows, total)


def _header(
    language: str, title_key: str, ctx: CommunityContext, period: str, now: datetime
) -> tuple[str, str, str]:
    subtitle = f"{ctx.name} ({ctx.code}) · {t(language, 'period')} {period}"
    at = now.astimezone(ITALY)
    footer = f"CerCollettiva · {ctx.name} · {t(language, 'generated')} {at:%Y-%m-%d %H:%M}"
    return t(language, title_key), subtitle, footer


def _production_section(language: str, days: list[EnergyDay]) -> Section:
    names = [t(language, k) for k in ("produced", "consumed", "self_consumption")]
    totals = [
        sum(d.produced_wh for d in days),
        sum(d.consumed_wh for d in days),
        sum(d.self_consumption_wh for d in days),
    ]
    unit = t(language, "kwh")
    return Section(
        title=t(language, "production"),
        facts=[(name, Energy(v)) for name, v in zip(names, totals, strict=True)],
        tables=[
            Table(
                "production_by_day",
                t(language, "production"),
                [t(language, "day"), *(f"{n} ({unit})" for n in names)],
                [
                    [
                        d.day,
                        Energy(d.produced_wh),
                        Energy(d.consumed_wh),
                        Energy(d.self_consumption_wh),
                    ]
                    for d in days
                ],
                [t(language, "total"), *(Energy(v) for v in totals)],
            )
        ],
    )


def monthly_report(
    ctx: CommunityContext,
    month: str,
    language: str,
    energy: EnergyMonth,
    runs: dict[str, ReportedRun],
    now: datetime,
    days: list[EnergyDay] | None = None,
) -> Document:
    """``runs``: the reported run by month, for this month, the previous one and
    the same month a year earlier (those missing are not settled); ``days``: the
    energy service's daily aggregates (produced, consumed, self-consumed)."""
    substation_of = {s.pod: s.primary_substation or "" for s in ctx.stays}
    figures = _energy(energy, substation_of, None)
    title, subtitle, footer = _header(language, "monthly_title", ctx, month, now)
    sections = [_energy_section(language, figures, t(language, "energy"))]
    if days is not None:
        sections.append(_production_section(language, days))
    run = runs.get(month)
    if run is not None:
        sub_rows: list[list[Cell]] = [
            [
                s.code,
                Energy(s.fed_in_wh),
                Energy(s.withdrawn_wh),
                Energy(s.shared_wh),
                Money(s.incentive_cents),
                Money(s.refund_cents),
            ]
            for s in run.substations
        ]
        sub_total: list[Cell] = [
            t(language, "total"),
            Energy(sum(s.fed_in_wh for s in run.substations)),
            Energy(sum(s.withdrawn_wh for s in run.substations)),
            Energy(sum(s.shared_wh for s in run.substations)),
            Money(sum(s.incentive_cents for s in run.substations)),
            Money(sum(s.refund_cents for s in run.substations)),
        ]
        sections.append(
            Section(
                title=t(language, "substations"),
                tables=[
                    Table(
                        "substations",
                        t(language, "substations"),
                        [
                            t(language, "substation"),
                            t(language, "fed_in"),
                            t(language, "withdrawn"),
                            t(language, "shared"),
                            t(language, "incentive"),
                            t(language, "refund"),
                        ],
                        sub_rows,
                        sub_total,
                    )
                ],
            )
        )
        money_facts = _money_rows(language, run)
        sections.append(
            Section(
                title=t(language, "money"),
                facts=[(t(language, "run"), f"#{run.run_id} ({run.kind})")],
                tables=[
                    Table(
                        "money",
                        t(language, "money"),
                        [t(language, "figure"), t(language, "amount")],
                        [[label, value] for label, value in money_facts],
                    )
                ],
            )
        )
        sections.append(
            Section(
                title=t(language, "members"),
                tables=[_members_table(language, run.members, ctx.memberships)],
            )
        )
    else:
        sections.append(Section(title=t(language, "money"), notes=[t(language, "not_settled")]))
    sections.append(_coverage_section(language, figures, energy))
    sections.append(_comparison(language, month, runs))
    return Document(title, subtitle, language, now, sections, footer)


def _comparison(language: str, month: str, runs: dict[str, ReportedRun]) -> Section:
    months = [month, previous_month(month), year_before(month)]
    chosen = [runs.get(m) for m in months]

    def row(label: str, pick: str) -> list[Cell]:
        out: list[Cell] = [label]
        for run in chosen:
            if run is None:
                out.append("—")  # that month is not settled
            elif pick == "fed_in":
                out.append(Energy(sum(s.fed_in_wh for s in run.substations)))
            elif pick == "withdrawn":
                out.append(Energy(sum(s.withdrawn_wh for s in run.substations)))
            elif pick == "shared":
                out.append(Energy(run.shared_wh))
            else:
                out.append(Money(run.total_cents))
        return out

    columns = [
        t(language, "figure"),
        f"{t(language, 'this_month')} ({months[0]})",
        f"{t(language, 'previous_month')} ({months[1]})",
        f"{t(language, 'year_before')} ({months[2]})",
    ]
    rows = [
        row(t(language, "fed_in"), "fed_in"),
        row(t(language, "withdrawn"), "withdrawn"),
        row(t(language, "shared"), "shared"),
        row(t(language, "total"), "money"),
    ]
    return Section(
        title=t(language, "comparison"),
        tables=[Table("comparison", t(language, "comparison"), columns, rows)],
    )


def months_of(period: str) -> list[str]:
    if len(period) == 7:
        return [period]
    return [f"{period}-{m:02d}" for m in range(1, 13)]


def member_statement(
    ctx: CommunityContext,
    user_id: int,
    period: str,
    language: str,
    energy: dict[str, EnergyMonth],
    runs: dict[str, ReportedRun],
    transactions: list[Transaction],
    now: datetime,
) -> Document:
    """A member's statement for a month or a year: ``energy`` and ``runs`` by month."""
    title, subtitle, footer = _header(language, "statement_title", ctx, period, now)
    subtitle = f"{_member_label(user_id, ctx.memberships, language)} · {subtitle}"
    my_pods = sorted({s.pod for s in ctx.stays if s.owner_user_id == user_id})
    energy_rows: list[list[Cell]] = []
    totals = [0, 0]
    for month in months_of(period):
        found = energy.get(month)
        for pod in my_pods:
            hours = found.pods.get(pod, []) if found else []
            fed, withdrawn = sum(h.fed_in_wh for h in hours), sum(h.withdrawn_wh for h in hours)
            totals[0] += fed
            totals[1] += withdrawn
            energy_rows.append([month, pod, Energy(fed), Energy(withdrawn)])
    share_rows: list[list[Cell]] = []
    earned_rows: list[list[Cell]] = []
    how_rows: list[list[Cell]] = []
    earned = [0, 0, 0]
    for month in months_of(period):
        run = runs.get(month)
        if run is None:
            continue
        mine = next((m for m in run.members if m.user_id == user_id), None)
        if mine is None:
            continue
        community_producer = sum(m.producer_shared_wh for m in run.members)
        community_contribution = sum(m.contribution_wh for m in run.members)
        share_rows.append(
            [
                month,
                Energy(run.shared_wh),
                Energy(mine.producer_shared_wh),
                Energy(mine.contribution_wh),
                Percent(
                    (100 * mine.contribution_wh / community_contribution)  # type: ignore[arg-type]
                    if community_contribution
                    else 0
                ),
            ]
        )
        earned_rows.append(
            [
                month,
                f"#{run.run_id} ({run.kind})",
                Money(mine.as_producer_cents),
                Money(mine.as_consumer_cents),
                Money(mine.cents),
            ]
        )
        earned[0] += mine.as_producer_cents
        earned[1] += mine.as_consumer_cents
        earned[2] += mine.cents
        producers_pool = sum(m.as_producer_cents for m in run.members)
        consumers_pool = sum(m.as_consumer_cents for m in run.members)
        how_rows.append(
            [
                month,
                Money(run.total_cents),
                Money(producers_pool),
                Energy(community_producer),
                Money(consumers_pool),
                Energy(community_contribution),
                Money(run.community_cents),
            ]
        )
    # The transactions are the period's year's: a month's benefit is paid later.
    paid = [
        tx for tx in transactions if tx.user_id == user_id and tx.kind == "BENEFIT_DISTRIBUTION"
    ]
    payment_rows: list[list[Cell]] = [
        [tx.processed_at or tx.created_at, tx.status, Money(tx.amount_cents), tx.reference or ""]
        for tx in paid
    ]
    e_names = [t(language, "fed_in"), t(language, "withdrawn")]
    sections = [
        Section(
            title=t(language, "my_energy"),
            facts=[(e_names[0], Energy(totals[0])), (e_names[1], Energy(totals[1]))],
            tables=[
                Table(
                    "my_energy",
                    t(language, "my_energy"),
                    [t(language, "month"), t(language, "pod"), *e_names],
                    energy_rows,
                    [t(language, "total"), "", Energy(totals[0]), Energy(totals[1])],
                )
            ],
        ),
        Section(
            title=t(language, "my_share"),
            tables=[
                Table(
                    "my_share",
                    t(language, "my_share"),
                    [
                        t(language, "month"),
                        t(language, "community_shared"),
                        t(language, "producer_shared"),
                        t(language, "contribution"),
                        t(language, "share"),
                    ],
                    share_rows,
                )
            ],
        ),
        Section(
            title=t(language, "earned"),
            facts=[
                (t(language, "as_producer"), Money(earned[0])),
                (t(language, "as_consumer"), Money(earned[1])),
                (t(language, "total"), Money(earned[2])),
            ],
            tables=[
                Table(
                    "earned",
                    t(language, "earned"),
                    [
                        t(language, "month"),
                        t(language, "run"),
                        t(language, "as_producer"),
                        t(language, "as_consumer"),
                        t(language, "total"),
                    ],
                    earned_rows,
                    [
                        t(language, "total"),
                        "",
                        Money(earned[0]),
                        Money(earned[1]),
                        Money(earned[2]),
                    ],
                )
            ],
        ),
        Section(
            title=t(language, "how_computed"),
            notes=[t(language, "computed_note")],
            tables=[
                Table(
                    "how_computed",
                    t(language, "how_computed"),
                    [
                        t(language, "month"),
                        t(language, "total"),
                        t(language, "producers_pool"),
                        t(language, "producer_shared"),
                        t(language, "consumers_pool"),
                        t(language, "contribution"),
                        t(language, "fund_pool"),
                    ],
                    how_rows,
                )
            ],
        ),
        Section(
            title=t(language, "payments"),
            notes=[] if payment_rows else [t(language, "no_payments")],
            tables=[
                Table(
                    "payments",
                    t(language, "payments"),
                    [
                        t(language, "date"),
                        t(language, "status"),
                        t(language, "amount"),
                        t(language, "reference"),
                    ],
                    payment_rows,
                    [
                        t(language, "paid"),
                        "",
                        Money(sum(tx.amount_cents for tx in paid if tx.status == "PROCESSED")),
                        "",
                    ],
                )
            ],
        ),
    ]
    return Document(title, subtitle, language, now, sections, footer)


def annual_report(
    ctx: CommunityContext,
    year: str,
    language: str,
    runs: list[ReportedRun],
    transactions: list[Transaction],
    now: datetime,
) -> Document:
    title, subtitle, footer = _header(language, "annual_title", ctx, year, now)
    run_rows: list[list[Cell]] = [
        [
            r.period,
            f"#{r.run_id} ({r.kind})",
            Energy(r.shared_wh),
            Money(r.incentive_cents),
            Money(r.refund_cents),
            Money(r.total_cents),
            Money(r.community_cents),
            Money(sum(m.cents for m in r.members)),
        ]
        for r in runs
    ]
    settled = sum(r.total_cents for r in runs)
    fund = sum(r.community_cents for r in runs)
    run_total: list[Cell] = [
        t(language, "total"),
        "",
        Energy(sum(r.shared_wh for r in runs)),
        Money(sum(r.incentive_cents for r in runs)),
        Money(sum(r.refund_cents for r in runs)),
        Money(settled),
        Money(fund),
        Money(sum(m.cents for r in runs for m in r.members)),
    ]
    gse = [tx for tx in transactions if tx.kind == "GSE_PAYMENT"]
    received = sum(tx.amount_cents for tx in gse if tx.status == "PROCESSED")
    fees = [tx for tx in transactions if tx.kind == "FEE"]
    fees_paid = sum(tx.amount_cents for tx in fees if tx.status == "PROCESSED")

    def tx_rows(items: list[Transaction]) -> list[list[Cell]]:
        return [
            [
                tx.processed_at or tx.created_at,
                tx.status,
                Money(tx.amount_cents),
                tx.reference or "",
            ]
            for tx in items
        ]

    tx_columns = [
        t(language, "date"),
        t(language, "status"),
        t(language, "amount"),
        t(language, "reference"),
    ]
    per_member: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in runs:
        for m in r.members:
            row = per_member[m.user_id]
            row[0] += m.as_producer_cents
            row[1] += m.as_consumer_cents
            row[2] += m.cents
    for tx in transactions:
        if tx.kind == "BENEFIT_DISTRIBUTION" and tx.user_id and tx.status == "PROCESSED":
            per_member[tx.user_id][3] += tx.amount_cents
    member_rows: list[list[Cell]] = [
        [
            _member_label(user, ctx.memberships, language),
            Money(v[0]),
            Money(v[1]),
            Money(v[2]),
            Money(v[3]),
        ]
        for user, v in sorted(per_member.items())
    ]
    member_total: list[Cell] = [
        t(language, "total"),
        *(Money(sum(v[i] for v in per_member.values())) for i in range(4)),
    ]
    sections = [
        Section(
            title=t(language, "settlements"),
            charts=[
                Chart(
                    t(language, "settlements"),
                    "bar",
                    [r.period[5:] for r in runs],
                    {
                        t(language, "incentive"): [r.incentive_cents / 100 for r in runs],
                        t(language, "refund"): [r.refund_cents / 100 for r in runs],
                    },
                    "€",
                )
            ]
            if runs
            else [],
            tables=[
                Table(
                    "settlements",
                    t(language, "settlements"),
                    [
                        t(language, "month"),
                        t(language, "run"),
                        t(language, "shared"),
                        t(language, "incentive"),
                        t(language, "refund"),
                        t(language, "total"),
                        t(language, "community_fund"),
                        t(language, "members"),
                    ],
                    run_rows,
                    run_total,
                )
            ],
        ),
        Section(
            title=t(language, "gse"),
            facts=[
                (t(language, "settled_total"), Money(settled)),
                (t(language, "gse_received"), Money(received)),
                (t(language, "difference"), Money(received - settled)),
            ],
            tables=[Table("gse_payments", t(language, "gse"), tx_columns, tx_rows(gse))],
        ),
        Section(
            title=t(language, "fees"),
            facts=[(t(language, "fees"), Money(fees_paid))],
            tables=[Table("fees", t(language, "fees"), tx_columns, tx_rows(fees))],
        ),
        Section(
            title=t(language, "distribution"),
            tables=[
                Table(
                    "distribution",
                    t(language, "distribution"),
                    [
                        t(language, "member"),
                        t(language, "as_producer"),
                        t(language, "as_consumer"),
                        t(language, "total"),
                        t(language, "paid"),
                    ],
                    member_rows,
                    member_total,
                )
            ],
        ),
        Section(
            title=t(language, "fund"),
            facts=[
                (t(language, "fund_accrued"), Money(fund)),
                (t(language, "fees"), Money(fees_paid)),
                (t(language, "fund_after_fees"), Money(fund - fees_paid)),
            ],
        ),
    ]
    return Document(title, subtitle, language, now, sections, footer)
