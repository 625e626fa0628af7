"""A settlement as JSON-ready data (kWh and euro as JSON numbers) and as a table for a person."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cacer.hours import utc_iso
from cacer.settlement import Settlement
from cacer.tip import MICRO


def kwh(wh: int) -> float:
    # int / int is correctly rounded, so the float prints as the exact three-decimal figure.
    return wh / 1000


def eur(cents: int) -> float:
    return cents / 100


def settlement_json(s: Settlement, *, hours: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "period": {"start": s.period.start.isoformat(), "end": s.period.end.isoformat()},
        "shared_energy_kwh": kwh(s.shared_energy_wh),
        "incentivised_shared_energy_kwh": kwh(s.incentivised_shared_energy_wh),
        "zone_shared_energy_kwh": kwh(s.zone_shared_energy_wh),
        "incentive_eur": eur(s.incentive_cents),
        "refund_eur": eur(s.refund_cents),
        "total_eur": eur(s.total_cents),
        "excess_eur": eur(s.excess_cents),
        "advance_monthly_eur": eur(s.advance_monthly_cents),
        "substations": [
            {
                "code": x.code,
                "zone": x.zone.value,
                "fed_in_kwh": kwh(x.fed_in_wh),
                "withdrawn_kwh": kwh(x.withdrawn_wh),
                "shared_energy_kwh": kwh(x.shared_energy_wh),
                "incentivised_shared_energy_kwh": kwh(x.incentivised_shared_energy_wh),
                "incentive_eur": eur(x.incentive_cents),
                "refund_eur": eur(x.refund_cents),
            }
            for x in s.substations
        ],
        "zones": [
            {
                "zone": z.zone.value,
                "fed_in_kwh": kwh(z.fed_in_wh),
                "withdrawn_kwh": kwh(z.withdrawn_wh),
                "shared_energy_kwh": kwh(z.shared_energy_wh),
            }
            for z in s.zones
        ],
        "plants": [
            {
                "pod": p.pod,
                "member": p.member,
                "substation": p.substation,
                "tip_eligible": p.tip_ineligibility is None,
                "tip_ineligibility": p.tip_ineligibility,
                "grant_reduction_f": float(p.grant_reduction),
                "fed_in_kwh": kwh(p.fed_in_wh),
                "shared_energy_kwh": kwh(p.shared_energy_wh),
                "incentive_eur": eur(p.incentive_cents),
                "refund_eur": eur(p.refund_cents),
                "advance_monthly_eur": eur(p.advance_monthly_cents),
            }
            for p in s.plants
        ],
        "excess": [
            {
                "set": e.set.value,
                "ratio": round(float(e.ratio), 6),
                "threshold": float(e.threshold),
                "excess_eur": eur(e.excess_cents),
            }
            for e in s.excess
        ],
        "members": [
            {
                "id": m.id,
                "enterprise": m.enterprise,
                "public_body": m.public_body,
                "producer_shared_energy_kwh": kwh(m.producer_shared_energy_wh),
                "contribution_kwh": kwh(m.contribution_wh),
                "as_producer_eur": eur(m.as_producer_cents),
                "as_consumer_eur": eur(m.as_consumer_cents),
                "eur": eur(m.cents),
            }
            for m in s.members
        ],
        "community_eur": eur(s.community_cents),
    }
    if hours:
        out["hours"] = _hours_json(s)
    return out


def _hours_json(s: Settlement) -> list[dict[str, Any]]:
    h = s.hourly
    f_by_plant = [1 - p.grant_reduction for p in s.plants]
    labels = h.grid.local_labels()
    starts = h.grid.starts_utc()
    rows: list[dict[str, Any]] = []
    for t in range(h.grid.count):
        rows.append(
            {
                "hour": labels[t],
                "hour_utc": utc_iso(int(starts[t])),
                "shared_energy_kwh": kwh(int(h.substation_shared_wh[:, t].sum())),
                "incentivised_shared_energy_kwh": kwh(
                    int(h.substation_incentivised_wh[:, t].sum())
                ),
                "zone_shared_energy_kwh": kwh(int(h.zone_shared_wh[:, t].sum())),
                "substations": [
                    {
                        "code": x.code,
                        "fed_in_kwh": kwh(int(h.substation_fed_in_wh[k, t])),
                        "withdrawn_kwh": kwh(int(h.substation_withdrawn_wh[k, t])),
                        "shared_energy_kwh": kwh(int(h.substation_shared_wh[k, t])),
                        "incentivised_shared_energy_kwh": kwh(
                            int(h.substation_incentivised_wh[k, t])
                        ),
                    }
                    for k, x in enumerate(s.substations)
                ],
                "plants": [
                    {
                        "pod": p.pod,
                        "shared_energy_kwh": kwh(int(h.plant_shared_wh[k, t])),
                        # Before the public-body exemption, which splits the hour's energy.
                        "tip_eur_mwh": round(
                            float(int(h.plant_tip_before_reduction_micro[k, t]) * f_by_plant[k])
                            / MICRO,
                            6,
                        ),
                    }
                    for k, p in enumerate(s.plants)
                    if h.plant_shared_wh[k, t] > 0
                ],
            }
        )
    return rows


def _money(cents: int) -> str:
    return f"{Decimal(cents).scaleb(-2):,.2f}"


def _energy(wh: int) -> str:
    return f"{Decimal(wh).scaleb(-3):,.3f}"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(c) for c in col) for col in zip(headers, *rows, strict=True)]
    line = "  ".join

    def fmt(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return line([first, *rest]).rstrip()

    return [fmt(headers), line("-" * w for w in widths), *(fmt(r) for r in rows)]


def settlement_table(s: Settlement, *, hours: bool = False) -> str:
    out = [
        f"CER settlement {s.period.start.isoformat()} to {s.period.end.isoformat()}"
        " (Italian local dates, end exclusive)",
        "",
        f"Shared energy, per substation  {_energy(s.shared_energy_wh):>16} kWh",
        f"  of which incentivised (EACI) {_energy(s.incentivised_shared_energy_wh):>16} kWh",
        f"Shared energy, per market zone {_energy(s.zone_shared_energy_wh):>16} kWh"
        " (earns nothing)",
        f"Incentive (TIP)                {_money(s.incentive_cents):>16} EUR",
        f"Refund (ARERA TRASe)           {_money(s.refund_cents):>16} EUR",
        f"Total                          {_money(s.total_cents):>16} EUR",
        f"GSE monthly advance (estimate) {_money(s.advance_monthly_cents):>16} EUR",
        "",
        "Substations",
        *_table(
            ["code", "zone", "shared kWh", "EACI kWh", "incentive EUR", "refund EUR"],
            [
                [
                    x.code,
                    x.zone.value,
                    _energy(x.shared_energy_wh),
                    _energy(x.incentivised_shared_energy_wh),
                    _money(x.incentive_cents),
                    _money(x.refund_cents),
                ]
                for x in s.substations
            ],
        ),
        "",
        "Plants",
        *_table(
            ["pod", "fed-in kWh", "shared kWh", "F", "incentive EUR", "refund EUR", "note"],
            [
                [
                    p.pod,
                    _energy(p.fed_in_wh),
                    _energy(p.shared_energy_wh),
                    f"{float(p.grant_reduction):.4f}",
                    _money(p.incentive_cents),
                    _money(p.refund_cents),
                    p.tip_ineligibility or "",
                ]
                for p in s.plants
            ],
        ),
        "",
        "Excess (55%/45% rule)",
        *_table(
            ["set", "ratio", "threshold", "excess EUR"],
            [
                [e.set.value, f"{float(e.ratio):.4f}", str(e.threshold), _money(e.excess_cents)]
                for e in s.excess
            ],
        ),
        "",
        "Distribution",
        *_table(
            ["member", "as producer EUR", "as consumer EUR", "total EUR"],
            [
                [
                    m.id,
                    _money(m.as_producer_cents),
                    _money(m.as_consumer_cents),
                    _money(m.cents),
                ]
                for m in s.members
            ]
            + [["(community)", "", "", _money(s.community_cents)]],
        ),
    ]
    if hours:
        h = s.hourly
        labels = h.grid.local_labels()
        out += [
            "",
            "Hours",
            *_table(
                ["hour (local)", "shared kWh", "EACI kWh", "zone shared kWh"],
                [
                    [
                        labels[t],
                        _energy(int(h.substation_shared_wh[:, t].sum())),
                        _energy(int(h.substation_incentivised_wh[:, t].sum())),
                        _energy(int(h.zone_shared_wh[:, t].sum())),
                    ]
                    for t in range(h.grid.count)
                ],
            ),
        ]
    return "\n".join(out) + "\n"
