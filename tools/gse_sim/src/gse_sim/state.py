"""What the simulated GSE holds, in memory: clients and tokens, configurations with their points,
the measurements it was sent, loaded prices and TRASe, faults to inject, and payment runs.

One process, one event loop: handlers mutate this without awaiting in between, so no locks.
A restart (or POST /admin/reset) forgets everything but the development client.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cacer import Plant

from gse_sim.settings import GseSimSettings

ELIGIBLE = "ELIGIBLE"
REFUND_ONLY = "REFUND_ONLY"  # keeps its energy and place, earns the refund but no TIP
INELIGIBLE = "INELIGIBLE"  # not admitted: left out of the configuration's figures
ELIGIBILITY = (ELIGIBLE, REFUND_ONLY, INELIGIBLE)


def _hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass
class RateBucket:
    """A token bucket: `capacity` requests at once, refilled at capacity per minute."""

    capacity: int
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """0 when the request may pass, else the seconds until it may."""
        rate = self.capacity / 60
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / rate


@dataclass
class Client:
    client_id: str
    secret_sha256: bytes
    name: str
    rate_limit_per_minute: int
    token_ttl_s: int
    bucket: RateBucket

    def secret_matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_sha256, _hash_secret(secret))


@dataclass(frozen=True)
class AccessToken:
    value: str
    client_id: str
    expires_at: float  # time.time(); real time, not the simulated clock


@dataclass
class PointRecord:
    """A POD of a configuration; with `plant` it is a production plant (impianto)."""

    id: str
    configuration_id: str
    pod: str
    substation: str
    zone: str
    public_body: bool
    plant: Plant | None
    request: dict[str, Any]  # as registered, to tell a same-content re-POST from a conflict
    registered_at: str
    eligibility: str = ELIGIBLE
    eligibility_reason: str | None = None

    def public(self) -> dict[str, Any]:
        p = self.plant
        return {
            "id": self.id,
            "configuration_id": self.configuration_id,
            "pod": self.pod,
            "kind": "PRODUCTION" if p is not None else "CONSUMPTION",
            "substation": self.substation,
            "zone": self.zone,
            "public_body": self.public_body,
            "plant": None
            if p is None
            else {
                "power_kw": str(p.power_kw),
                "technology": p.technology.value,
                "region": p.region,
                "entry_into_service": p.entry_into_service.isoformat(),
                "capital_grant_eur_per_kw": str(p.capital_grant_eur_per_kw),
            },
            "eligibility": {"status": self.eligibility, "reason": self.eligibility_reason},
            "registered_at": self.registered_at,
        }


@dataclass(frozen=True)
class Reading:
    minutes: int
    fed_in_kwh: float
    withdrawn_kwh: float


@dataclass
class PaymentLine:
    kind: str  # ADVANCE (month) or CONGUAGLIO (year)
    period: str  # "2025-06" or "2025"
    amount_cents: int
    due: date


@dataclass
class Configuration:
    id: str
    number: int
    client_id: str
    code: str
    name: str
    type: str
    created_at: str
    request: dict[str, Any]
    points: dict[str, PointRecord] = field(default_factory=dict)  # by POD
    # pod -> start (epoch seconds) -> reading; the GSE keeps the latest value per POD and time
    readings: dict[str, dict[int, Reading]] = field(default_factory=dict)
    pod_interval: dict[str, int] = field(default_factory=dict)
    month_revision: dict[str, int] = field(default_factory=dict)
    # Faults of this configuration (admin API)
    missing_pods: set[str] = field(default_factory=set)
    late_months: set[str] = field(default_factory=set)
    # Payment runs executed so far (run lazily, in date order, when payments are asked for)
    runs_until: date | None = None
    accounted: set[tuple[str, str]] = field(default_factory=set)
    pending: list[PaymentLine] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "name": self.name,
            "type": self.type,
            "status": "ACTIVE",
            "created_at": self.created_at,
            "points": len(self.points),
            "plants": sum(1 for p in self.points.values() if p.plant is not None),
        }


@dataclass
class Faults:
    delay_s: float = 0.0
    fail_next: int = 0
    fail_status: int = 503


@dataclass
class IdempotentResponse:
    fingerprint: str
    status: int
    body: Any


class SimState:
    def __init__(self, settings: GseSimSettings) -> None:
        self.settings = settings
        self.reset()

    def reset(self) -> None:
        self.clients: dict[str, Client] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.configurations: dict[str, Configuration] = {}
        self.point_ids: dict[str, tuple[str, str]] = {}  # point id -> (configuration id, pod)
        self.prices: dict[tuple[str, int], Decimal] = {}  # (zone, hour start) -> EUR/MWh
        # TRASe set through the admin API: (configuration id or None for everyone, year) -> EUR/MWh
        self.trase: dict[tuple[str | None, int], Decimal] = {}
        self.clock: datetime | None = None  # None: the real time
        self.faults = Faults()
        self.idempotency: dict[tuple[str, str, str], IdempotentResponse] = {}
        self.version = 0  # bumped by every change: computed results are cached per version
        self.results_cache: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self._sequence: dict[str, int] = {}
        s = self.settings
        self.add_client(s.dev_client_id, s.dev_client_secret, "development referente")

    def changed(self) -> None:
        self.version += 1

    def next_number(self, kind: str) -> int:
        self._sequence[kind] = self._sequence.get(kind, 0) + 1
        return self._sequence[kind]

    # Clients and tokens -------------------------------------------------------------------

    def add_client(
        self,
        client_id: str,
        secret: str,
        name: str,
        rate_limit_per_minute: int | None = None,
        token_ttl_s: int | None = None,
    ) -> Client:
        rate = rate_limit_per_minute or self.settings.rate_limit_per_minute
        client = Client(
            client_id=client_id,
            secret_sha256=_hash_secret(secret),
            name=name,
            rate_limit_per_minute=rate,
            token_ttl_s=token_ttl_s or self.settings.token_ttl_s,
            bucket=RateBucket(rate, float(rate), time.monotonic()),
        )
        self.clients[client_id] = client
        return client

    def issue_token(self, client: Client) -> AccessToken:
        token = AccessToken(
            value=secrets.token_urlsafe(32),
            client_id=client.client_id,
            expires_at=time.time() + client.token_ttl_s,
        )
        self.tokens[token.value] = token
        return token

    def client_for_token(self, value: str) -> Client | None:
        token = self.tokens.get(value)
        if token is None:
            return None
        if token.expires_at <= time.time():
            del self.tokens[value]
            return None
        return self.clients.get(token.client_id)

    def retry_after(self, client: Client) -> int:
        """0 when the client may call now, else whole seconds to wait (Retry-After)."""
        wait = client.bucket.take(time.monotonic())
        return math.ceil(wait) if wait > 0 else 0
