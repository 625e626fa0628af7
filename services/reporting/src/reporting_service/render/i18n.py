"""Words and numbers in the reader's language (Italian or English), by babel."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal

from reporting_service.render.document import Cell, Energy, Money, Percent

LOCALES = {"it": "it_IT", "en": "en_GB"}

LABELS: dict[str, dict[str, str]] = {
    "monthly_title": {"it": "Rapporto mensile della comunità", "en": "Monthly community report"},
    "statement_title": {"it": "Estratto conto del socio", "en": "Member statement"},
    "annual_title": {
        "it": "Rendiconto annuale per l'assemblea",
        "en": "Annual report to the assembly",
    },
    "energy": {"it": "Energia", "en": "Energy"},
    "produced": {"it": "Prodotta", "en": "Produced"},
    "consumed": {"it": "Consumata", "en": "Consumed"},
    "self_consumption": {"it": "Autoconsumata", "en": "Self-consumed"},
    "production": {
        "it": "Produzione e consumo per giorno",
        "en": "Production and consumption by day",
    },
    "fed_in": {"it": "Immessa in rete", "en": "Fed in"},
    "withdrawn": {"it": "Prelevata dalla rete", "en": "Withdrawn"},
    "shared": {"it": "Condivisa", "en": "Shared"},
    "community_shared": {"it": "Condivisa dalla comunità", "en": "Shared by the community"},
    "kwh": {"it": "kWh", "en": "kWh"},
    "day": {"it": "Giorno", "en": "Day"},
    "hour": {"it": "Ora", "en": "Hour"},
    "by_day": {"it": "Energia per giorno", "en": "Energy by day"},
    "by_hour": {
        "it": "Energia per ora del giorno (totale del mese)",
        "en": "Energy by hour of day (month total)",
    },
    "substations": {"it": "Per cabina primaria", "en": "By primary substation"},
    "substation": {"it": "Cabina primaria", "en": "Primary substation"},
    "money": {"it": "Incentivo, restituzione ed eccedenza", "en": "Incentive, refund and excess"},
    "incentive": {"it": "Incentivo (TIP)", "en": "Incentive (TIP)"},
    "refund": {"it": "Restituzione ARERA", "en": "ARERA refund"},
    "excess": {"it": "Eccedenza (regola 55%/45%)", "en": "Excess (55%/45% rule)"},
    "total": {"it": "Totale", "en": "Total"},
    "community_fund": {"it": "Fondo della comunità", "en": "Community fund"},
    "members": {"it": "Soci e importi maturati", "en": "Members and what each earned"},
    "member": {"it": "Socio", "en": "Member"},
    "as_producer": {"it": "Come produttore", "en": "As producer"},
    "as_consumer": {"it": "Come consumatore", "en": "As consumer"},
    "producer_shared": {"it": "Condivisa da produttore (kWh)", "en": "Shared as producer (kWh)"},
    "contribution": {
        "it": "Contributo da consumatore (kWh)",
        "en": "Contribution as consumer (kWh)",
    },
    "coverage": {"it": "Copertura dei dati per fonte", "en": "Data coverage by source"},
    "source": {"it": "Fonte", "en": "Source"},
    "hours": {"it": "Ore POD", "en": "POD hours"},
    "share": {"it": "Quota", "en": "Share"},
    "comparison": {"it": "Confronto", "en": "Comparison"},
    "this_month": {"it": "Questo mese", "en": "This month"},
    "previous_month": {"it": "Mese precedente", "en": "Previous month"},
    "year_before": {"it": "Stesso mese un anno prima", "en": "Same month a year earlier"},
    "figure": {"it": "Voce", "en": "Figure"},
    "run": {"it": "Liquidazione", "en": "Settlement run"},
    "run_kind": {"it": "Tipo", "en": "Kind"},
    "not_settled": {"it": "Mese non ancora liquidato", "en": "Month not settled yet"},
    "official_complete": {"it": "Dati ufficiali completi", "en": "Official data complete"},
    "yes": {"it": "sì", "en": "yes"},
    "no": {"it": "no", "en": "no"},
    "my_energy": {"it": "La mia energia", "en": "My energy"},
    "my_share": {
        "it": "La mia quota dell'energia condivisa",
        "en": "My share of the shared energy",
    },
    "earned": {"it": "Quanto ho maturato", "en": "What I earned"},
    "how_computed": {"it": "Come è calcolato", "en": "How it was computed"},
    "payments": {"it": "Pagamenti", "en": "Payments"},
    "month": {"it": "Mese", "en": "Month"},
    "pod": {"it": "POD", "en": "POD"},
    "status": {"it": "Stato", "en": "Status"},
    "date": {"it": "Data", "en": "Date"},
    "amount": {"it": "Importo", "en": "Amount"},
    "reference": {"it": "Riferimento", "en": "Reference"},
    "kind": {"it": "Tipo", "en": "Kind"},
    "settlements": {"it": "Liquidazioni dell'anno", "en": "The year's settlements"},
    "gse": {"it": "Pagamenti GSE e riconciliazione", "en": "GSE payments and reconciliation"},
    "settled_total": {"it": "Totale liquidato", "en": "Total settled"},
    "gse_received": {"it": "Ricevuto dal GSE", "en": "Received from the GSE"},
    "difference": {"it": "Differenza", "en": "Difference"},
    "fees": {"it": "Spese", "en": "Fees"},
    "distribution": {"it": "Ripartizione per socio", "en": "Distribution per member"},
    "fund": {"it": "Fondo della comunità", "en": "The community fund"},
    "fund_accrued": {"it": "Maturato nell'anno", "en": "Accrued in the year"},
    "fund_after_fees": {"it": "Dopo le spese", "en": "After fees"},
    "paid": {"it": "Pagato", "en": "Paid"},
    "no_payments": {"it": "Nessun pagamento registrato", "en": "No payment recorded"},
    "community": {"it": "Comunità", "en": "Community"},
    "period": {"it": "Periodo", "en": "Period"},
    "generated": {"it": "Generato il", "en": "Generated on"},
    "producers_pool": {"it": "Quota produttori", "en": "Producers' share"},
    "consumers_pool": {"it": "Quota consumatori", "en": "Consumers' share"},
    "fund_pool": {"it": "Quota fondo comunità", "en": "Community fund share"},
    "computed_note": {
        "it": (
            "Ogni ora, l'energia condivisa di una cabina primaria è il minimo tra l'immessa e"
            " la prelevata dei suoi impianti. L'incentivo e la restituzione del mese sono "
            "ripartiti secondo le quote dello statuto: la quota produttori in proporzione "
            "all'energia condivisa prodotta, la quota consumatori in proporzione al "
            "contributo, al centesimo."
        ),
        "en": (
            "Each hour, a primary substation's shared energy is the lesser of its plants' "
            "fed-in and withdrawn energy. The month's incentive and refund are split by the "
            "statute's shares: the producers' share in proportion to the shared energy "
            "produced, the consumers' share in proportion to the contribution, to the cent."
        ),
    },
    "shared_note": {
        "it": (
            "Energia condivisa per giorno e per ora: minimo orario tra immessa e prelevata "
            "per cabina primaria; il totale incentivato è quello della liquidazione."
        ),
        "en": (
            "Shared energy by day and hour: the hourly lesser of fed-in and withdrawn per "
            "primary substation; the incentivised total is the settlement's."
        ),
    },
}


def t(language: str, key: str) -> str:
    return LABELS[key][language]


def locale(language: str) -> str:
    return LOCALES[language]


def money(cents: int, language: str) -> str:
    return format_currency(Decimal(cents) / 100, "EUR", locale=locale(language))


def kwh(wh: int, language: str) -> str:
    return format_decimal(Decimal(wh) / 1000, format="#,##0.000", locale=locale(language))


def show(cell: Cell, language: str) -> str:
    """A cell as a person reads it."""
    if cell is None:
        return ""
    if isinstance(cell, Money):
        return money(cell.cents, language)
    if isinstance(cell, Energy):
        return kwh(cell.wh, language)
    if isinstance(cell, Percent):
        return format_decimal(cell.value, format="#,##0.0", locale=locale(language)) + " %"
    if isinstance(cell, datetime):
        return format_datetime(cell, format="short", locale=locale(language))
    if isinstance(cell, date):
        return format_date(cell, format="short", locale=locale(language))
    if isinstance(cell, int):
        return format_decimal(cell, locale=locale(language))
    return cell
