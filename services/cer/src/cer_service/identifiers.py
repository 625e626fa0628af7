"""Italian identifiers, validated and normalised (cer-rules.md §7).

POD and primary-substation codes follow published formats; codice fiscale,
partita IVA and IBAN are checked by maintained libraries (python-stdnum,
schwifty), never by a home-made regex. Each check raises ``ValueError`` with
a message for the client; schemas turn it into a 422 naming the field.
"""

from __future__ import annotations

import re

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.it import codicefiscale, iva

POD_FORMAT = "IT + 3-digit distributor code + E + 8 digits, optional letter (IT001E12345678)"
SUBSTATION_FORMAT = "2 letters + 3 digits + E + 5 digits (AC001E01234)"

_POD = re.compile(r"^IT[0-9]{3}E[0-9]{8}[A-Z]?$")
_SUBSTATION = re.compile(r"^[A-Z]{2}[0-9]{3}E[0-9]{5}$")
_SPACES = re.compile(r"\s+")


def normalise_pod(value: str) -> str:
    pod = _SPACES.sub("", value).upper()
    if not _POD.fullmatch(pod):
        raise ValueError(f"not a POD: expected {POD_FORMAT}")
    return pod


def normalise_substation(value: str) -> str:
    code = _SPACES.sub("", value).upper()
    if not _SUBSTATION.fullmatch(code):
        raise ValueError(f"not a primary substation code: expected {SUBSTATION_FORMAT}")
    return code


def normalise_tax_code(value: str) -> str:
    """Codice fiscale: 16 characters for a person, 11 digits for a body or company."""
    try:
        return str(codicefiscale.validate(value))
    except StdnumError as exc:
        raise ValueError(f"not a valid codice fiscale: {exc}") from exc


def normalise_vat_number(value: str) -> str:
    """Partita IVA: 11 digits with its check digit; an ``IT`` prefix is accepted."""
    compact = _SPACES.sub("", value).upper().removeprefix("IT")
    try:
        return str(iva.validate(compact))
    except StdnumError as exc:
        raise ValueError(f"not a valid partita IVA: {exc}") from exc


def normalise_iban(value: str) -> str:
    try:
        return str(IBAN(value).compact)
    except (SchwiftyException, ValueError) as exc:
        raise ValueError(f"not a valid IBAN: {exc}") from exc


def mask(value: str, visible: int = 4) -> str:
    """All but the last ``visible`` characters hidden."""
    return "*" * max(len(value) - visible, 0) + value[-visible:]
