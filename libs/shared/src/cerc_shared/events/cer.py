"""Events of the CER service, enough for other services to keep a read model.

Topics: ``cer.v1`` (keyed by community id), ``membership.v1`` (keyed by
membership id), ``plant.v1`` (keyed by plant id), ``invitation.v1`` (keyed by
invitation id). Quantities are ``Decimal``
(serialised as strings), never float. Validity periods are half-open
``[valid_from, valid_to)``; ``valid_to`` is ``None`` while open. Personal data
(codice fiscale, partita IVA, IBAN) never travels on Kafka.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from cerc_shared.events.base import Event

MarketZone = Literal["NORD", "CNOR", "CSUD", "SUD", "CALA", "SICI", "SARD"]
PlantType = Literal["CONSUMER", "PRODUCER", "PROSUMER"]
Role = Literal["ADMIN", "MEMBER", "VIEWER"]
MemberType = Literal["PRIVATE", "ENTERPRISE"]
# Bodies whose withdrawals earn the TIP without the capital-grant reduction
# (cer-rules §2); NONE for everyone else.
BodyType = Literal[
    "NONE", "LOCAL_AUTHORITY", "PUBLIC_BODY", "RELIGIOUS", "THIRD_SECTOR", "ENVIRONMENTAL"
]
Technology = Literal["PV", "WIND", "HYDRO", "BIOGAS", "BIOMASS", "OTHER"]
# Tensione di connessione: bassa, media, alta (low, medium, high voltage).
Voltage = Literal["BT", "MT", "AT"]
# The twenty regions of Italy, as plants are registered in them.
Region = Literal[
    "Abruzzo",
    "Basilicata",
    "Calabria",
    "Campania",
    "Emilia-Romagna",
    "Friuli-Venezia Giulia",
    "Lazio",
    "Liguria",
    "Lombardia",
    "Marche",
    "Molise",
    "Piemonte",
    "Puglia",
    "Sardegna",
    "Sicilia",
    "Toscana",
    "Trentino-Alto Adige",
    "Umbria",
    "Valle d'Aosta",
    "Veneto",
]
# The documents a community keeps: its statute, its regulation, its logo.
DocumentKind = Literal["statute", "regulation", "logo"]


class SharesPeriod(BaseModel):
    """The statute's split of the benefits from ``valid_from`` until the next period."""

    model_config = ConfigDict(frozen=True)

    valid_from: date
    producers_pct: Decimal
    consumers_pct: Decimal
    community_fund_pct: Decimal


# ----------------------------------------------------------------- cer.v1


class _CommunityFacts(Event):
    topic: ClassVar[str] = "cer.v1"
    community_id: int
    code: str
    name: str
    market_zone: MarketZone
    is_active: bool
    # The whole history, oldest first: a consumer replaces what it had.
    distribution_shares: list[SharesPeriod]
    # How long a meter may stay silent before its owner and the admins are told.
    device_offline_threshold_min: int = 30

    def key(self) -> str:
        return str(self.community_id)


class CommunityCreated(_CommunityFacts):
    type: Literal["cer.created"] = "cer.created"
    version: Literal[1] = 1


class CommunityUpdated(_CommunityFacts):
    type: Literal["cer.updated"] = "cer.updated"
    version: Literal[1] = 1
    changed: list[str] = Field(default_factory=list)


class CommunityDeactivated(_CommunityFacts):
    type: Literal["cer.deactivated"] = "cer.deactivated"
    version: Literal[1] = 1


# ----------------------------------------------------------- membership.v1


class _MembershipFacts(Event):
    topic: ClassVar[str] = "membership.v1"
    membership_id: int
    community_id: int
    user_id: int
    role: Role
    member_type: MemberType
    body_type: BodyType
    valid_from: date
    valid_to: date | None

    def key(self) -> str:
        return str(self.membership_id)


class MembershipStarted(_MembershipFacts):
    type: Literal["membership.started"] = "membership.started"
    version: Literal[1] = 1


class MembershipUpdated(_MembershipFacts):
    type: Literal["membership.updated"] = "membership.updated"
    version: Literal[1] = 1
    changed: list[str] = Field(default_factory=list)


class MembershipEnded(_MembershipFacts):
    type: Literal["membership.ended"] = "membership.ended"
    version: Literal[1] = 1


class MembershipErased(_MembershipFacts):
    """The member asked for erasure: drop any personal data kept about them;
    ids and periods stay so settlements remain whole."""

    type: Literal["membership.erased"] = "membership.erased"
    version: Literal[1] = 1


# ---------------------------------------------------------------- plant.v1


class _PlantFacts(Event):
    topic: ClassVar[str] = "plant.v1"
    plant_id: int
    pod: str
    name: str
    community_id: int
    owner_user_id: int
    plant_type: PlantType
    nominal_power_kw: Decimal
    technology: str | None
    entry_into_service: date | None
    region: str
    primary_substation: str
    market_zone: MarketZone
    capital_grant_eur_per_kw: Decimal
    connection_voltage: str | None
    # The plant's period in ``community_id``.
    valid_from: date
    valid_to: date | None

    def key(self) -> str:
        return str(self.plant_id)


class PlantRegistered(_PlantFacts):
    """A plant enters a community (new on the platform, or moved from another)."""

    type: Literal["plant.registered"] = "plant.registered"
    version: Literal[1] = 1


class PlantUpdated(_PlantFacts):
    type: Literal["plant.updated"] = "plant.updated"
    version: Literal[1] = 1
    changed: list[str] = Field(default_factory=list)


class PlantLeft(_PlantFacts):
    """The plant's period in the community ended (``valid_to``)."""

    type: Literal["plant.left"] = "plant.left"
    version: Literal[1] = 1


# ---------------------------------------------------------- invitation.v1


class InvitationCreated(Event):
    """A manager invited an e-mail address to join a community; the notification
    service mails the person the link. A topic of its own, not membership.v1:
    the read models that authorise on membership.v1 never see e-mail addresses,
    and only the mailer needs to read this one."""

    topic: ClassVar[str] = "invitation.v1"
    type: Literal["invitation.created"] = "invitation.created"
    version: Literal[1] = 1
    invitation_id: int
    community_id: int
    community_name: str
    # As the manager typed it: the address to write to, never matched to an account here.
    email: str
    role: Role
    expires_at: datetime
    # Path (under the gateway's origin) the person opens after signing in;
    # it holds the invitation's one-time token.
    accept_path: str

    def key(self) -> str:
        return str(self.invitation_id)


CER_EVENTS: tuple[type[Event], ...] = (
    CommunityCreated,
    CommunityUpdated,
    CommunityDeactivated,
    MembershipStarted,
    MembershipUpdated,
    MembershipEnded,
    MembershipErased,
    PlantRegistered,
    PlantUpdated,
    PlantLeft,
    InvitationCreated,
)
