"""Payout files: pain.001.001.03 built and validated against the schema sepaxml ships, and the
bank's pain.002 status report read back to an outcome per transfer."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import sepaxml
import xmlschema
from cerc_sepa import (
    Debtor,
    Outcome,
    SepaError,
    StatusReportError,
    Transfer,
    build_pain001,
    outcome_of,
    parse_pain002,
)

SCHEMA = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
COMMUNITY = Debtor("CER Demo Bergamo", "IT60 X054 2811 1010 0000 0123 456", "BPMOIT22XXX")
ANNA = "DE89370400440532013000"
LUCA = "FR1420041010050500013M02606"
COMUNE = "IT37P0306909606100000063417"


def transfers() -> list[Transfer]:
    return [
        Transfer("PAY-7-1", "Anna Bianchi", ANNA, 1234, "CER Demo Bergamo 2025-06 benefit"),
        Transfer("PAY-7-2", "Luca Società Agricola", LUCA, 100_001, "CER Demo Bergamo 2025-06"),
        Transfer("PAY-7-3", "Comune di Niccolò", COMUNE, 5, "CER 2025-06", bic="BPMOIT22"),
    ]


def build(batch: list[Transfer] | None = None, **overrides: object) -> bytes:
    args: dict[str, object] = {
        "message_id": "CERC-PAYOUT-7",
        "execution_date": date(2025, 7, 31),
        "created_at": datetime(2025, 7, 28, 9, 30, 0),
    } | overrides
    return build_pain001(COMMUNITY, transfers() if batch is None else batch, **args)  # type: ignore[arg-type]


def test_the_file_validates_against_the_schema_sepaxml_ships_and_carries_the_batch() -> None:
    content = build()
    xmlschema.XMLSchema(str(SCHEMA)).validate(content.decode())
    root = ET.fromstring(content)  # noqa: S314 - built by the test
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    assert header is not None
    assert header.findtext("p:MsgId", namespaces=NS) == "CERC-PAYOUT-7"
    assert header.findtext("p:CreDtTm", namespaces=NS) == "2025-07-28T09:30:00"
    assert header.findtext("p:NbOfTxs", namespaces=NS) == "3"
    # 12.34 + 1,000.01 + 0.05, to the cent
    assert header.findtext("p:CtrlSum", namespaces=NS) == "1012.40"
    (info,) = root.findall("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert info.findtext("p:PmtInfId", namespaces=NS) == "CERC-PAYOUT-7-1"
    assert info.findtext("p:ReqdExctnDt", namespaces=NS) == "2025-07-31"
    assert info.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == "IT60X0542811101000000123456"
    assert info.findtext("p:DbtrAgt/p:FinInstnId/p:BIC", namespaces=NS) == "BPMOIT22XXX"
    rows = [
        (
            tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS),
            tx.findtext("p:Amt/p:InstdAmt", namespaces=NS),
            tx.findtext("p:Cdtr/p:Nm", namespaces=NS),
            tx.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS),
        )
        for tx in info.findall("p:CdtTrfTxInf", NS)
    ]
    assert rows == [
        ("PAY-7-1", "12.34", "Anna Bianchi", ANNA),
        ("PAY-7-2", "1000.01", "Luca Societa Agricola", LUCA),  # transliterated to SEPA Latin
        ("PAY-7-3", "0.05", "Comune di Niccolo", COMUNE),
    ]
    # the same batch is the same file, byte for byte (no random ids, no clock)
    assert build() == content


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda b: b.__setitem__(0, Transfer("PAY-7-1", "Anna", ANNA[:-1] + "1", 1, "x")),
            "transfers[0].iban: 'DE89370400440532013001' is not a valid IBAN",
        ),
        (
            lambda b: b.__setitem__(1, Transfer("PAY-7-1", "Luca", LUCA, 1, "x")),
            "transfers[1].end_to_end_id: 'PAY-7-1' again (transfers[0])",
        ),
        (
            lambda b: b.__setitem__(0, Transfer("PAY-7-1", "Anna", ANNA, 0, "x")),
            "transfers[0].amount_cents: 0, expected whole cents from 1",
        ),
        (
            lambda b: b.__setitem__(0, Transfer("PAY-7-1", "Anna", ANNA, 12.5, "x")),  # type: ignore[arg-type]
            "transfers[0].amount_cents: 12.5, expected whole cents",
        ),
        (
            lambda b: b.__setitem__(0, Transfer("PAY//7", "Anna", ANNA, 1, "x")),
            "transfers[0].end_to_end_id: 'PAY//7' is not a SEPA identifier",
        ),
        (
            lambda b: b.__setitem__(0, Transfer("PAY-7-1", "Anna", ANNA, 1, "x", bic="NOTABIC")),
            "transfers[0].bic: 'NOTABIC' is not a valid BIC",
        ),
        (lambda b: b.clear(), "transfers: a payment file needs at least one transfer"),
    ],
)
def test_bad_batches_are_refused_naming_the_transfer(change: object, problem: str) -> None:
    batch = transfers()
    change(batch)  # type: ignore[operator]
    with pytest.raises(SepaError) as e:
        build(batch)
    assert any(line.startswith(problem) for line in e.value.problems), e.value.problems


def test_a_bad_message_id_or_debtor_iban_is_refused() -> None:
    with pytest.raises(SepaError, match=r"message_id: 'x{36}' is not a SEPA identifier"):
        build(message_id="x" * 36)
    with pytest.raises(SepaError) as e:
        build_pain001(
            Debtor("CER", "IT00X0000000000000000000000"),
            transfers(),
            message_id="M1",
            execution_date=date(2025, 7, 31),
            created_at=datetime(2025, 7, 28),
        )
    assert e.value.problems[0].startswith("debtor.iban: 'IT00X0000000000000000000000'")


def _pain002(body: str, version: str = "03") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.{version}">'
        f"<CstmrPmtStsRpt><GrpHdr><MsgId>BANK-STS-1</MsgId>"
        f"<CreDtTm>2025-08-01T08:00:00</CreDtTm></GrpHdr>{body}</CstmrPmtStsRpt></Document>"
    ).encode()


def _tx(e2e: str, status: str, extra: str = "") -> str:
    return (
        f"<TxInfAndSts><StsId>S-{e2e}</StsId><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId>"
        f"<TxSts>{status}</TxSts>{extra}</TxInfAndSts>"
    )


def test_status_report_marks_each_transfer_processed_or_failed() -> None:
    report = parse_pain002(
        _pain002(
            "<OrgnlGrpInfAndSts><OrgnlMsgId>CERC-PAYOUT-7</OrgnlMsgId>"
            "<OrgnlMsgNmId>pain.001.001.03</OrgnlMsgNmId><GrpSts>PART</GrpSts>"
            "</OrgnlGrpInfAndSts>"
            "<OrgnlPmtInfAndSts><OrgnlPmtInfId>CERC-PAYOUT-7-1</OrgnlPmtInfId>"
            + _tx("PAY-7-1", "ACSC")
            + _tx(
                "PAY-7-2",
                "RJCT",
                "<StsRsnInf><Rsn><Cd>AC04</Cd></Rsn><AddtlInf>Account closed</AddtlInf>"
                '</StsRsnInf><OrgnlTxRef><Amt><InstdAmt Ccy="EUR">1000.01</InstdAmt></Amt>'
                "</OrgnlTxRef>",
            )
            + "</OrgnlPmtInfAndSts>",
            version="10",
        )
    )
    assert (report.message_id, report.original_message_id) == ("BANK-STS-1", "CERC-PAYOUT-7")
    assert report.group_status == "PART"
    settled, rejected = report.transfers
    assert (settled.end_to_end_id, settled.outcome) == ("PAY-7-1", Outcome.PROCESSED)
    assert (rejected.outcome, rejected.amount_cents) == (Outcome.FAILED, 100_001)
    assert rejected.reasons[0].code == "AC04" and rejected.reasons[0].text == "Account closed"
    assert report.outcome_for("PAY-7-1") is Outcome.PROCESSED
    assert report.outcome_for("PAY-7-2") is Outcome.FAILED
    # not in the report, and the group is only partly done: nothing to change yet
    assert report.outcome_for("PAY-7-3") is Outcome.PENDING


def test_a_rejected_group_without_details_fails_every_transfer() -> None:
    report = parse_pain002(
        _pain002(
            "<OrgnlGrpInfAndSts><OrgnlMsgId>CERC-PAYOUT-7</OrgnlMsgId>"
            "<OrgnlMsgNmId>pain.001.001.03</OrgnlMsgNmId><GrpSts>RJCT</GrpSts>"
            "<StsRsnInf><Rsn><Cd>DU01</Cd></Rsn></StsRsnInf></OrgnlGrpInfAndSts>"
        )
    )
    assert report.transfers == ()
    assert report.group_reasons[0].code == "DU01"
    assert report.outcome_for("PAY-7-1") is Outcome.FAILED
    accepted_block = parse_pain002(
        _pain002(
            "<OrgnlGrpInfAndSts><OrgnlMsgId>M</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.03"
            "</OrgnlMsgNmId></OrgnlGrpInfAndSts><OrgnlPmtInfAndSts><OrgnlPmtInfId>M-1"
            "</OrgnlPmtInfId><PmtInfSts>ACSP</PmtInfSts></OrgnlPmtInfAndSts>"
        )
    )
    assert accepted_block.outcome_for("anything") is Outcome.PROCESSED


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("RJCT", Outcome.FAILED),
        ("ACSC", Outcome.PROCESSED),
        ("ACCC", Outcome.PROCESSED),
        ("ACSP", Outcome.PROCESSED),
        ("ACTC", Outcome.PENDING),
        ("ACCP", Outcome.PENDING),
        ("PDNG", Outcome.PENDING),
        (None, Outcome.PENDING),
    ],
)
def test_status_codes(code: str | None, outcome: Outcome) -> None:
    assert outcome_of(code) is outcome


def test_unreadable_status_reports_are_refused() -> None:
    with pytest.raises(StatusReportError, match=r"not a pain\.002 status report"):
        parse_pain002(build())  # a pain.001 is not a status report
    with pytest.raises(StatusReportError, match="not well-formed XML"):
        parse_pain002(b"<Document>")
    with pytest.raises(StatusReportError, match="DTD or entity"):
        parse_pain002(b'<!DOCTYPE d [<!ENTITY a "x">]><Document/>')
    with pytest.raises(StatusReportError) as e:
        parse_pain002(
            _pain002(
                "<OrgnlGrpInfAndSts><OrgnlMsgNmId>pain.001.001.03</OrgnlMsgNmId>"
                "</OrgnlGrpInfAndSts><OrgnlPmtInfAndSts>"
                "<TxInfAndSts><TxSts>RJCT</TxSts></TxInfAndSts>"
                + _tx(
                    "PAY-1",
                    "RJCT",
                    '<OrgnlTxRef><Amt><InstdAmt Ccy="EUR">1.234</InstdAmt></Amt></OrgnlTxRef>',
                )
                + "</OrgnlPmtInfAndSts>"
            )
        )
    assert e.value.problems == [
        "OrgnlGrpInfAndSts.OrgnlMsgId is missing",
        "OrgnlPmtInfAndSts[0].TxInfAndSts[0].OrgnlEndToEndId is missing",
        "OrgnlPmtInfAndSts[0].TxInfAndSts[1].InstdAmt: amount '1.234' is not euros and cents",
    ]
