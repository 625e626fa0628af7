"""Request and response models of the CER service.

Identifiers are validated and normalised here (see identifiers.py), so a bad
POD, codice fiscale, partita IVA or IBAN is a 422 naming its field before any
domain code runs. Power, money and shares are ``Decimal`` (strings in JSON).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from cerc_shared.events.cer import (
    BodyType,
    MarketZone,
    MemberType,
    PlantType,
    Region,
    Role,
    Technology,
    Voltage,
)
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from cer_service import identifiers


def _checked(kind: str, normalise: Any, expected: str) -> AfterValidator:
    def check(value: str) -> str:
        try:
            result: str = normalise(value)
        except ValueError as exc:
            raise PydanticCustomError(
                f"invalid_{kind}", "{reason}", {"reason": str(exc), "expected": expected}
            ) from exc
        return result

    return AfterValidator(check)


Pod = Annotated[
    str,
    Field(min_length=14, max_length=20, examples=["IT001E12345678"]),
    _checked("pod", identifiers.normalise_pod, identifiers.POD_FORMAT),
]
Substation = Annotated[
    str,
    Field(min_length=11, max_length=20, examples=["AC001E01234"]),
    _checked("substation", identifiers.normalise_substation, identifiers.SUBSTATION_FORMAT),
]
TaxCode = Annotated[
    str,
    Field(min_length=11, max_length=16, examples=["RSSMRA85T10A562S"]),
    _checked("tax_code", identifiers.normalise_tax_code, "codice fiscale"),
]
VatNumber = Annotated[
    str,
    Field(min_length=11, max_length=16, examples=["00743110157"]),
    _checked("vat_number", identifiers.normalise_vat_number, "partita IVA"),
]
Iban = Annotated[
    str,
    Field(min_length=15, max_length=42, examples=["IT60X0542811101000000123456"]),
    _checked("iban", identifiers.normalise_iban, "IBAN"),
]


def _places(places: int) -> AfterValidator:
    """Store and publish what the Numeric column holds: "25" becomes "25.00"."""
    exponent = Decimal(1).scaleb(-places)
    return AfterValidator(lambda value: value.quantize(exponent))


Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2), _places(2)]
Kilowatts = Annotated[Decimal, Field(gt=0, max_digits=10, decimal_places=2), _places(2)]
EurosPerKw = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2), _places(2)]
# Italy lies within these bounds; anything outside is a typo.
Latitude = Annotated[Decimal, Field(ge=35, le=48, decimal_places=8), _places(8)]
Longitude = Annotated[Decimal, Field(ge=6, le=19, decimal_places=8), _places(8)]
CommunityCode = Annotated[
    str, Field(min_length=2, max_length=50, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
]
Name = Annotated[str, Field(min_length=1, max_length=255)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# ------------------------------------------------------------------ shares


class SharesIn(_Strict):
    """The statute's split, in percent; the three must add up to 100."""

    valid_from: date | None = None
    producers_pct: Percent
    consumers_pct: Percent
    community_fund_pct: Percent


class SharesOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    valid_from: date
    producers_pct: Decimal
    consumers_pct: Decimal
    community_fund_pct: Decimal


# ------------------------------------------------------------- communities


# Minutes a meter may stay silent before people are told: 5 minutes to a day.
OfflineThreshold = Annotated[int, Field(ge=5, le=1440)]


class CommunityCreate(_Strict):
    name: Name
    code: CommunityCode
    description: str = Field(default="", max_length=5000)
    market_zone: MarketZone
    distribution_shares: SharesIn
    device_offline_threshold_min: OfflineThreshold = 30


class CommunityUpdate(_Strict):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=5000)
    market_zone: MarketZone | None = None
    device_offline_threshold_min: OfflineThreshold | None = None


class Documents(BaseModel):
    statute: bool
    regulation: bool
    logo: bool


class SubstationSummary(BaseModel):
    primary_substation: str
    plants_count: int
    producers_count: int
    consumers_count: int
    prosumers_count: int
    # Installed production power (producers and prosumers), kW.
    total_power: Decimal


class CommunityListItem(BaseModel):
    id: int
    name: str
    code: str
    market_zone: str
    is_active: bool
    members_count: int
    # Installed production power of the active plants, kW.
    total_power: Decimal
    created_at: datetime


class CommunityOut(CommunityListItem):
    """The community's summary (the specification's example response, and more)."""

    description: str
    device_offline_threshold_min: int
    plants_count: int
    power_by_substation: list[SubstationSummary]
    distribution_shares: SharesOut | None
    documents: Documents
    my_role: str | None
    updated_at: datetime


# ----------------------------------------------------------------- members


class MemberAdd(_Strict):
    """Who joins (exactly one of user_id, username, email) and the facts the rules need."""

    user_id: int | None = Field(default=None, ge=1, le=2**62)
    username: str | None = Field(default=None, min_length=1, max_length=150)
    email: str | None = Field(default=None, min_length=3, max_length=254)
    role: Role = "MEMBER"
    member_type: MemberType = "PRIVATE"
    body_type: BodyType = "NONE"
    tax_code: TaxCode | None = None
    vat_number: VatNumber | None = None
    iban: Iban | None = None
    joined_on: date | None = None

    @model_validator(mode="after")
    def _one_way_to_name_the_user(self) -> MemberAdd:
        given = [f for f in ("user_id", "username", "email") if getattr(self, f) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "one_user_reference", "give exactly one of user_id, username or email"
            )
        return self


class InvitationIn(_Strict):
    """Whom to invite (an e-mail address, nothing else names them) and on what terms."""

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    role: Role = "MEMBER"
    member_type: MemberType = "PRIVATE"
    body_type: BodyType = "NONE"
    joined_on: date | None = None


class InvitationSent(BaseModel):
    """The same answer whether or not the address belongs to an account."""

    invitation_id: int
    email: str
    expires_at: datetime
    message: str = "if this address can join, an invitation has been sent to it"


class InvitationOut(BaseModel):
    """What a manager sees of an invitation: the address they typed, never who it is."""

    invitation_id: int
    community_id: int
    email: str
    role: str
    member_type: str
    body_type: str
    joined_on: date | None
    status: Literal["PENDING", "ACCEPTED", "REVOKED", "EXPIRED"]
    created_at: datetime
    expires_at: datetime


class InvitationForMe(BaseModel):
    """An invitation addressed to the signed-in user's e-mail."""

    invitation_id: int
    community_id: int
    community_name: str
    role: str
    member_type: str
    body_type: str
    joined_on: date | None
    expires_at: datetime


class InvitationAccept(_Strict):
    """The joining person's own facts (the rules need them for a MEMBER)."""

    tax_code: TaxCode | None = None
    vat_number: VatNumber | None = None
    iban: Iban | None = None


class MemberUpdate(_Strict):
    role: Role | None = None
    # The current period's first day, corrected (e.g. a wrong date at the
    # invitation); its end is set by DELETE .../members/{user_id}/?left_on=.
    valid_from: date | None = None
    member_type: MemberType | None = None
    body_type: BodyType | None = None
    tax_code: TaxCode | None = None
    vat_number: VatNumber | None = None
    iban: Iban | None = None


class MemberOut(BaseModel):
    membership_id: int
    community_id: int
    user_id: int
    username: str | None
    first_name: str | None
    last_name: str | None
    role: str
    member_type: str
    body_type: str
    # Shown in clear to the member and the CER's admins, masked to others.
    tax_code: str | None
    vat_number: str | None
    iban: str | None
    personal_data_masked: bool
    valid_from: date
    valid_to: date | None
    is_active: bool
    erased: bool


# ------------------------------------------------------------------ plants


class _PlantFacts(_Strict):
    name: Name
    plant_type: PlantType
    owner_user_id: int = Field(ge=1, le=2**62)
    nominal_power_kw: Kilowatts
    technology: Technology | None = None
    entry_into_service: date | None = None
    address: str = Field(default="", max_length=500)
    city: str = Field(min_length=1, max_length=100)
    province: str = Field(pattern=r"^[A-Za-z]{2}$")
    region: Region
    zip_code: str = Field(pattern=r"^[0-9]{5}$")
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    primary_substation: Substation
    market_zone: MarketZone
    capital_grant_eur_per_kw: EurosPerKw = Decimal("0.00")
    connection_voltage: Voltage | None = None


class PlantCreate(_PlantFacts):
    cer_id: int = Field(ge=1, le=2**62)
    pod: Pod
    valid_from: date | None = None


class PlantUpdate(_Strict):
    name: Name | None = None
    plant_type: PlantType | None = None
    owner_user_id: int | None = Field(default=None, ge=1, le=2**62)
    nominal_power_kw: Kilowatts | None = None
    technology: Technology | None = None
    entry_into_service: date | None = None
    address: str | None = Field(default=None, max_length=500)
    city: str | None = Field(default=None, min_length=1, max_length=100)
    province: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    region: Region | None = None
    zip_code: str | None = Field(default=None, pattern=r"^[0-9]{5}$")
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    primary_substation: Substation | None = None
    market_zone: MarketZone | None = None
    capital_grant_eur_per_kw: EurosPerKw | None = None
    connection_voltage: Voltage | None = None


class PlantPeriodOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    community_id: int
    valid_from: date
    valid_to: date | None


class PlantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    pod: str
    plant_type: str
    community_id: int | None
    owner_user_id: int
    nominal_power_kw: Decimal
    technology: str | None
    entry_into_service: date | None
    address: str
    city: str
    province: str
    region: str
    zip_code: str
    latitude: Decimal | None
    longitude: Decimal | None
    primary_substation: str
    market_zone: str
    capital_grant_eur_per_kw: Decimal
    connection_voltage: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


# A plant's facts as the service keeps them, listed once (above): what the
# audit trail snapshots, what a change may touch, and (those the plant.v1
# events carry) what the events say.
PLANT_FIELDS: tuple[str, ...] = tuple(
    name for name in PlantOut.model_fields if name not in ("id", "created_at", "updated_at")
)


class PlantWarning(BaseModel):
    code: str
    message: str
    field: str | None = None


class PlantDetail(PlantOut):
    periods: list[PlantPeriodOut]
    # Accepted, but worth the manager's attention (e.g. it shares nothing yet).
    warnings: list[PlantWarning] = Field(default_factory=list)


# ------------------------------------------------------------ audit, export


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_user_id: int
    action: str
    entity_type: str
    entity_id: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class PersonalExport(BaseModel):
    user_id: int
    username: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    memberships: list[MemberOut]
    plants: list[PlantDetail]
    exported_at: datetime


class ErasureOut(BaseModel):
    user_id: int
    memberships_ended: int
    memberships_erased: int
