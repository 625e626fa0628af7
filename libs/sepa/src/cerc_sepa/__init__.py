"""SEPA files for payouts: `build_pain001` (credit transfers) and `parse_pain002` (the bank's
status report). Pure: values in, bytes out, and back."""

from cerc_sepa.credit_transfer import Debtor, SepaError, Transfer, build_pain001
from cerc_sepa.status_report import (
    Outcome,
    StatusReport,
    StatusReportError,
    TransferStatus,
    outcome_of,
    parse_pain002,
)

__all__ = [
    "Debtor",
    "Outcome",
    "SepaError",
    "StatusReport",
    "StatusReportError",
    "Transfer",
    "TransferStatus",
    "build_pain001",
    "outcome_of",
    "parse_pain002",
]
