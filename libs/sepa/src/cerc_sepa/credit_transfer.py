"""A payout batch as a SEPA credit transfer file (pain.001.001.03), built with `sepaxml`.

The community's account is the debtor; each member's payout one transfer, identified by its
end-to-end id so that the bank's status report (pain.002, `status_report`) can be matched back.
Everything is checked before a byte is written: IBANs (schwifty), amounts in whole cents, ids in
the SEPA character set; then the file is validated against the pain.001.001.03 schema that
`sepaxml` ships. The message id and creation time are the caller's (sepaxml would draw random
ones), so the same batch always gives the same file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import sepaxml
import xmlschema
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sepaxml import SepaTransfer

SCHEMA = "pain.001.001.03"
NAMESPACE = f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA}"
SCHEMA_FILE = Path(sepaxml.__file__).parent / "schemas" / f"{SCHEMA}.xsd"
#: SEPA's largest amount of one transfer: 999,999,999.99 €.
MAX_AMOUNT_CENTS = 99_999_999_999
#: Identifiers (message, payment, end-to-end): at most 35 characters of the SEPA Latin set, not
#: starting or ending with "/" and without "//" (EPC rulebook, SCT implementation guidelines).
_SEPA_ID = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]{1,35}")


class SepaError(ValueError):
    """The batch cannot become a payment file; `problems` names each reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Debtor:
    """The community's account."""

    name: str
    iban: str
    bic: str | None = None


@dataclass(frozen=True)
class Transfer:
    end_to_end_id: str
    creditor_name: str
    iban: str
    amount_cents: int
    remittance: str  # unstructured remittance information, up to 140 characters
    bic: str | None = None


def _sepa_id(value: str) -> bool:
    return bool(_SEPA_ID.fullmatch(value)) and "//" not in value and value.strip("/") == value


def _iban(value: str, path: str, problems: list[str]) -> str:
    try:
        return str(IBAN(value).compact)
    except SchwiftyException as e:
        problems.append(f"{path}: {value!r} is not a valid IBAN ({e})")
        return value


def _bic(value: str | None, path: str, problems: list[str]) -> str | None:
    if value is None:
        return None
    try:
        return str(BIC(value).compact)
    except SchwiftyException as e:
        problems.append(f"{path}: {value!r} is not a valid BIC ({e})")
        return value


def _check(
    debtor: Debtor, transfers: Sequence[Transfer], message_id: str
) -> tuple[Debtor, list[Transfer]]:
    problems: list[str] = []
    if not _sepa_id(message_id):
        problems.append(f"message_id: {message_id!r} is not a SEPA identifier (1-35 characters)")
    if not debtor.name.strip():
        problems.append("debtor.name: must not be empty")
    clean_debtor = Debtor(
        debtor.name,
        _iban(debtor.iban, "debtor.iban", problems),
        _bic(debtor.bic, "debtor.bic", problems),
    )
    if not transfers:
        problems.append("transfers: a payment file needs at least one transfer")
    seen: dict[str, int] = {}
    clean: list[Transfer] = []
    for i, t in enumerate(transfers):
        path = f"transfers[{i}]"
        if not _sepa_id(t.end_to_end_id):
            problems.append(
                f"{path}.end_to_end_id: {t.end_to_end_id!r} is not a SEPA identifier "
                "(1-35 characters)"
            )
        elif t.end_to_end_id in seen:
            problems.append(
                f"{path}.end_to_end_id: {t.end_to_end_id!r} again "
                f"(transfers[{seen[t.end_to_end_id]}])"
            )
        seen.setdefault(t.end_to_end_id, i)
        if type(t.amount_cents) is not int or not 1 <= t.amount_cents <= MAX_AMOUNT_CENTS:
            problems.append(
                f"{path}.amount_cents: {t.amount_cents!r}, expected whole cents from 1 to "
                f"{MAX_AMOUNT_CENTS}"
            )
        if not t.creditor_name.strip():
            problems.append(f"{path}.creditor_name: must not be empty")
        if not t.remittance.strip():
            problems.append(f"{path}.remittance: must not be empty")
        clean.append(
            Transfer(
                t.end_to_end_id,
                t.creditor_name,
                _iban(t.iban, f"{path}.iban", problems),
                t.amount_cents,
                t.remittance,
                _bic(t.bic, f"{path}.bic", problems),
            )
        )
    if problems:
        raise SepaError(problems)
    return clean_debtor, clean


def build_pain001(
    debtor: Debtor,
    transfers: Sequence[Transfer],
    *,
    message_id: str,
    execution_date: date,
    created_at: datetime,
) -> bytes:
    """The pain.001.001.03 file of `transfers` from `debtor`'s account, schema-valid, UTF-8.

    One payment information block (one execution date, batch booking), its id
    `<message_id>-1`; the group header's count and control sum are sepaxml's.
    """
    debtor, transfers = _check(debtor, transfers, message_id)
    config: dict[str, object] = {
        "name": debtor.name,
        "IBAN": debtor.iban,
        "batch": True,
        "currency": "EUR",
    }
    if debtor.bic:
        config["BIC"] = debtor.bic
    sepa = SepaTransfer(config, schema=SCHEMA, clean=True)
    for t in transfers:
        payment: dict[str, object] = {
            "name": t.creditor_name,
            "IBAN": t.iban,
            "amount": t.amount_cents,
            "execution_date": execution_date,
            "description": t.remittance,
            "endtoend_id": t.end_to_end_id,
        }
        if t.bic:
            payment["BIC"] = t.bic
        sepa.add_payment(payment)
    produced: bytes = sepa.export(validate=False)
    content = _with_our_ids(produced, message_id, created_at)
    errors = list(xmlschema.XMLSchema(str(SCHEMA_FILE)).iter_errors(content.decode("utf-8")))
    if errors:
        raise SepaError(
            [f"the file does not validate against {SCHEMA}: {e.reason}" for e in errors]
        )
    return content


def _with_our_ids(produced: bytes, message_id: str, created_at: datetime) -> bytes:
    """sepaxml draws a random message id and payment id and stamps the local time: put ours."""
    ET.register_namespace("", NAMESPACE)
    root = ET.fromstring(produced)  # noqa: S314 - sepaxml's own output, not outside input
    ns = {"p": NAMESPACE}
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", ns)
    assert header is not None
    _set(header, "p:MsgId", message_id, ns)
    _set(header, "p:CreDtTm", created_at.strftime("%Y-%m-%dT%H:%M:%S"), ns)
    for k, info in enumerate(root.iterfind("p:CstmrCdtTrfInitn/p:PmtInf", ns), start=1):
        _set(info, "p:PmtInfId", f"{message_id[:32]}-{k}", ns)
    body: bytes = ET.tostring(root, encoding="utf-8")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _set(parent: ET.Element, path: str, text: str, ns: dict[str, str]) -> None:
    node = parent.find(path, ns)
    assert node is not None, path
    node.text = text
