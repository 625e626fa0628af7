"""The bank's payment status report (pain.002, versions 001.03 to 001.10), read to an outcome per
transfer, matched by the end-to-end id the payment file gave it.

ISO 20022 status codes to what the platform records:
- RJCT (rejected) -> FAILED: the amount goes back to the member's balance;
- ACSC, ACCC (settled), ACSP (accepted, settlement in process: the debtor's bank has taken the
  order and the money is committed) -> PROCESSED;
- anything else (ACCP, ACTC, ACWC, PDNG, RCVD, PART...) -> PENDING: no change yet.
A transfer without its own status takes that of its payment information block, when the report
has one for the block, else the group's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from xml.etree import ElementTree as ET

_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:pain\.002\.001\.(0[3-9]|10)")


class Outcome(StrEnum):
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"
    PENDING = "PENDING"


_PROCESSED = frozenset({"ACSC", "ACCC", "ACSP"})
_FAILED = frozenset({"RJCT"})


def outcome_of(status_code: str | None) -> Outcome:
    if status_code in _FAILED:
        return Outcome.FAILED
    if status_code in _PROCESSED:
        return Outcome.PROCESSED
    return Outcome.PENDING


class StatusReportError(ValueError):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Reason:
    code: str | None  # ISO external status reason code, e.g. AC04 (account closed)
    text: str | None


@dataclass(frozen=True)
class TransferStatus:
    end_to_end_id: str
    status: str | None  # the ISO code as reported, None when only a block or group status
    outcome: Outcome
    reasons: tuple[Reason, ...]
    amount_cents: int | None  # the original amount when the bank repeats it


@dataclass(frozen=True)
class PaymentInfoStatus:
    payment_info_id: str
    status: str | None
    reasons: tuple[Reason, ...]
    transfers: tuple[TransferStatus, ...]


@dataclass(frozen=True)
class StatusReport:
    message_id: str
    original_message_id: str
    group_status: str | None
    group_reasons: tuple[Reason, ...]
    payment_infos: tuple[PaymentInfoStatus, ...]

    @property
    def transfers(self) -> tuple[TransferStatus, ...]:
        return tuple(t for p in self.payment_infos for t in p.transfers)

    def outcome_for(self, end_to_end_id: str) -> Outcome:
        """The transfer's own status; else its block's if the report has a single block
        without transfer details; else the group's; else PENDING."""
        for t in self.transfers:
            if t.end_to_end_id == end_to_end_id:
                return t.outcome
        blocks = [p for p in self.payment_infos if not p.transfers and p.status]
        if len(blocks) == 1:
            return outcome_of(blocks[0].status)
        return outcome_of(self.group_status)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(node: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in node if _local(c.tag) == name), None)


def _children(node: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in node if _local(c.tag) == name]


def _text(node: ET.Element | None, *path: str) -> str | None:
    for name in path:
        if node is None:
            return None
        node = _child(node, name)
    if node is None or node.text is None:
        return None
    return node.text.strip() or None


def _reasons(node: ET.Element) -> tuple[Reason, ...]:
    out = []
    for info in _children(node, "StsRsnInf"):
        extra = [(a.text or "").strip() for a in _children(info, "AddtlInf")]
        out.append(
            Reason(_text(info, "Rsn", "Cd") or _text(info, "Rsn", "Prtry"), " ".join(extra) or None)
        )
    return tuple(out)


def _cents(text: str | None, path: str, problems: list[str]) -> int | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        problems.append(f"{path}: amount {text!r} is not euros and cents")
        return None
    return int(value * 100)


def parse_pain002(data: bytes) -> StatusReport:
    """Read a status report; raise `StatusReportError` naming what is missing or wrong."""
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise StatusReportError(["a DTD or entity declaration is not accepted"])
    try:
        root = ET.fromstring(data)  # noqa: S314 - no DTD (checked above); expat >= 2.4.1
    except ET.ParseError as e:
        raise StatusReportError([f"not well-formed XML: {e}"]) from e
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if _local(root.tag) != "Document" or not _NAMESPACE.fullmatch(namespace):
        raise StatusReportError(
            [f"not a pain.002 status report (root {root.tag!r}); expected pain.002.001.03 to .10"]
        )
    report = _child(root, "CstmrPmtStsRpt")
    if report is None:
        raise StatusReportError(["CstmrPmtStsRpt is missing"])
    problems: list[str] = []
    message_id = _text(report, "GrpHdr", "MsgId")
    group = _child(report, "OrgnlGrpInfAndSts")
    original = _text(group, "OrgnlMsgId")
    if message_id is None:
        problems.append("GrpHdr.MsgId is missing")
    if group is None or original is None:
        problems.append("OrgnlGrpInfAndSts.OrgnlMsgId is missing")
    blocks = []
    for b, block in enumerate(_children(report, "OrgnlPmtInfAndSts")):
        transfers = []
        for t, tx in enumerate(_children(block, "TxInfAndSts")):
            path = f"OrgnlPmtInfAndSts[{b}].TxInfAndSts[{t}]"
            end_to_end = _text(tx, "OrgnlEndToEndId")
            if end_to_end is None:
                problems.append(f"{path}.OrgnlEndToEndId is missing")
                continue
            status = _text(tx, "TxSts")
            transfers.append(
                TransferStatus(
                    end_to_end_id=end_to_end,
                    status=status,
                    outcome=outcome_of(status or _text(block, "PmtInfSts")),
                    reasons=_reasons(tx),
                    amount_cents=_cents(
                        _text(tx, "OrgnlTxRef", "Amt", "InstdAmt"), f"{path}.InstdAmt", problems
                    ),
                )
            )
        blocks.append(
            PaymentInfoStatus(
                payment_info_id=_text(block, "OrgnlPmtInfId") or "",
                status=_text(block, "PmtInfSts"),
                reasons=_reasons(block),
                transfers=tuple(transfers),
            )
        )
    if problems:
        raise StatusReportError(problems)
    assert message_id is not None and original is not None and group is not None
    return StatusReport(
        message_id=message_id,
        original_message_id=original,
        group_status=_text(group, "GrpSts"),
        group_reasons=_reasons(group),
        payment_infos=tuple(blocks),
    )
