"""The figures a report shows, asked of the services that own them.

* energy: ``GET /internal/energy/pod-hours/`` (the energy service), each POD's
  hourly fed-in and withdrawn energy with the source of each hour;
* money: ``GET /internal/economic/reports/settlements/`` and
  ``.../transactions/`` (the economic service), the run each month is reported
  from with every member's part, and the community's transactions.

Both are internal routes that take a client-credentials token with the read
scope; :class:`TokenSource` gives it (a fixed token from the settings until
the kernel's token source is on main). Energy in Wh and money in cents from
here on: never float.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

import httpx
from cerc_shared.service_tokens import ClientCredentials, ClientTokenError

from reporting_service.settings import ReportingSettings


class FiguresUnavailable(RuntimeError):
    """An owning service did not answer as agreed; the job fails with this reason."""


class TokenSource(Protocol):
    """The service's own token (cerc_shared.service_tokens.ClientCredentials):
    ``send(headers)`` with it, asking for a fresh one after a 401."""

    async def send(
        self, send: Callable[[dict[str, str]], Awaitable[httpx.Response]]
    ) -> httpx.Response: ...


@dataclass(frozen=True)
class StaticToken:
    """A token configured by hand; empty: no Authorization header."""

    value: str

    async def send(
        self, send: Callable[[dict[str, str]], Awaitable[httpx.Response]]
    ) -> httpx.Response:
        # Nothing to refresh: a refused static token would be refused again.
        return await send({"Authorization": f"Bearer {self.value}"} if self.value else {})


def token_source(settings: ReportingSettings) -> TokenSource:
    if settings.client_id:
        return ClientCredentials(settings.token_url, settings.client_id, settings.client_secret)
    return StaticToken(settings.service_token)


@dataclass(frozen=True)
class PodHour:
    start: datetime
    fed_in_wh: int
    withdrawn_wh: int
    source: str


@dataclass(frozen=True)
class EnergyMonth:
    pods: dict[str, list[PodHour]]
    official_complete: bool


@dataclass(frozen=True)
class EnergyDay:
    """A community day as the energy service aggregates it (Italian local day)."""

    day: date
    produced_wh: int
    consumed_wh: int
    self_consumption_wh: int
    fed_in_wh: int
    withdrawn_wh: int
    shared_wh: int


@dataclass(frozen=True)
class MemberPart:
    user_id: int
    producer_shared_wh: int
    contribution_wh: int
    as_producer_cents: int
    as_consumer_cents: int
    cents: int


@dataclass(frozen=True)
class SubstationPart:
    code: str
    fed_in_wh: int
    withdrawn_wh: int
    shared_wh: int
    incentive_cents: int
    refund_cents: int


@dataclass(frozen=True)
class ReportedRun:
    run_id: int
    period: str
    kind: str
    total_cents: int
    community_cents: int
    incentive_cents: int
    refund_cents: int
    excess_cents: int
    shared_wh: int
    distribution: dict[str, Decimal]
    substations: list[SubstationPart]
    members: list[MemberPart]
    finished_at: datetime | None


@dataclass(frozen=True)
class Transaction:
    id: int
    kind: str
    status: str
    amount_cents: int
    user_id: int | None
    reference: str | None
    created_at: datetime
    processed_at: datetime | None


class Figures(Protocol):
    async def energy_month(self, community_id: int, month: str) -> EnergyMonth: ...

    async def energy_days(self, community_id: int, month: str) -> list[EnergyDay]: ...

    async def settlements(self, community_id: int, period: str) -> list[ReportedRun]: ...

    async def transactions(self, community_id: int, year: int) -> list[Transaction]: ...


def wh(kwh: Any) -> int:
    """A kWh figure as JSON gave it, to whole Wh (the engine's unit)."""
    return int((Decimal(str(kwh)) * 1000).to_integral_value())


def cents(eur: Any) -> int:
    return int((Decimal(str(eur)) * 100).to_integral_value())


def day_of(d: dict[str, Any]) -> EnergyDay:
    """One day of ``/internal/energy/aggregations/`` (its start is the local midnight)."""
    return EnergyDay(
        day=datetime.fromisoformat(d["start"]).date(),
        produced_wh=wh(d["produced_kwh"]),
        consumed_wh=wh(d["consumed_kwh"]),
        self_consumption_wh=wh(d["self_consumption_kwh"]),
        fed_in_wh=wh(d["fed_in_kwh"]),
        withdrawn_wh=wh(d["withdrawn_kwh"]),
        shared_wh=wh(d["shared_kwh"] or 0),
    )


def run_of(item: dict[str, Any]) -> ReportedRun:
    result = item.get("result") or {}
    # The shares of the run's distribution, as fractions (producers, consumers, community).
    shares = (item.get("parameters") or {}).get("distribution") or {}
    return ReportedRun(
        run_id=int(item["run_id"]),
        period=str(item["period"]),
        kind=str(item["kind"]),
        total_cents=int(item["total_cents"]),
        community_cents=int(item["community_cents"]),
        incentive_cents=cents(result.get("incentive_eur", 0)),
        refund_cents=cents(result.get("refund_eur", 0)),
        excess_cents=cents(result.get("excess_eur", 0)),
        shared_wh=wh(result.get("shared_energy_kwh", 0)),
        distribution=({str(k): Decimal(str(v)) for k, v in shares.items()}),
        substations=[
            SubstationPart(
                code=str(x["code"]),
                fed_in_wh=wh(x["fed_in_kwh"]),
                withdrawn_wh=wh(x["withdrawn_kwh"]),
                shared_wh=wh(x["shared_energy_kwh"]),
                incentive_cents=cents(x["incentive_eur"]),
                refund_cents=cents(x["refund_eur"]),
            )
            for x in result.get("substations", [])
        ],
        members=[
            MemberPart(
                user_id=int(m["user_id"]),
                producer_shared_wh=int(m["producer_shared_wh"]),
                contribution_wh=int(m["contribution_wh"]),
                as_producer_cents=int(m["as_producer_cents"]),
                as_consumer_cents=int(m["as_consumer_cents"]),
                cents=int(m["cents"]),
            )
            for m in item["members"]
        ],
        finished_at=datetime.fromisoformat(item["finished_at"])
        if item.get("finished_at")
        else None,
    )


@dataclass
class HttpFigures:
    """The owning services over HTTP, with a service token."""

    energy_url: str
    economic_url: str
    tokens: TokenSource
    timeout_s: float = 60.0
    _http: httpx.AsyncClient | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: ReportingSettings, tokens: TokenSource) -> HttpFigures:
        return cls(
            energy_url=settings.energy_url.rstrip("/"),
            economic_url=settings.economic_url.rstrip("/"),
            tokens=tokens,
            timeout_s=settings.http_timeout_s,
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _get(self, url: str, params: dict[str, Any]) -> Any:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout_s)
        http = self._http

        async def send(headers: dict[str, str]) -> httpx.Response:
            try:
                return await http.get(url, params=params, headers=headers)
            except httpx.HTTPError as exc:
                raise FiguresUnavailable(f"{url} unreachable: {exc}") from exc

        try:
            # A token refused (keys rotated, client revoked and re-made): the kernel asks once more.
            response = await self.tokens.send(send)
        except ClientTokenError as exc:
            raise FiguresUnavailable(f"no service token: {exc}") from exc
        if response.status_code != 200:
            raise FiguresUnavailable(
                f"{url} answered {response.status_code}: {response.text[:300]}"
            )
        try:
            return response.json()["data"]
        except (KeyError, ValueError) as exc:
            raise FiguresUnavailable(f"{url} answer not understood: {exc!r}") from exc

    async def energy_month(self, community_id: int, month: str) -> EnergyMonth:
        data = await self._get(
            self.energy_url + "/internal/energy/pod-hours/",
            {"community_id": community_id, "month": month},
        )
        try:
            return EnergyMonth(
                pods={
                    item["pod"]: [
                        PodHour(
                            start=datetime.fromisoformat(h["start"]),
                            fed_in_wh=wh(h["fed_in_kwh"]),
                            withdrawn_wh=wh(h["withdrawn_kwh"]),
                            source=str(h["source"]),
                        )
                        for h in item["hours"]
                    ]
                    for item in data["pods"]
                },
                official_complete=bool(data["official_complete"]),
            )
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise FiguresUnavailable(f"energy answer not understood: {exc!r}") from exc

    async def energy_days(self, community_id: int, month: str) -> list[EnergyDay]:
        data = await self._get(
            self.energy_url + "/internal/energy/aggregations/",
            {"community_id": community_id, "month": month, "resolution": "day"},
        )
        try:
            return [day_of(d) for d in data]
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise FiguresUnavailable(f"energy answer not understood: {exc!r}") from exc

    async def settlements(self, community_id: int, period: str) -> list[ReportedRun]:
        data = await self._get(
            self.economic_url + "/internal/economic/reports/settlements/",
            {"community_id": community_id, "period": period},
        )
        try:
            return [run_of(item) for item in data]
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise FiguresUnavailable(f"economic answer not understood: {exc!r}") from exc

    async def transactions(self, community_id: int, year: int) -> list[Transaction]:
        data = await self._get(
            self.economic_url + "/internal/economic/reports/transactions/",
            {"community_id": community_id, "year": year},
        )
        try:
            return [
                Transaction(
                    id=int(t["id"]),
                    kind=str(t["kind"]),
                    status=str(t["status"]),
                    amount_cents=int(t["amount_cents"]),
                    user_id=t.get("user_id"),
                    reference=t.get("reference"),
                    created_at=datetime.fromisoformat(t["created_at"]),
                    processed_at=(
                        datetime.fromisoformat(t["processed_at"]) if t.get("processed_at") else None
                    ),
                )
                for t in data
            ]
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise FiguresUnavailable(f"economic answer not understood: {exc!r}") from exc
