"""The energy service's internal API, as the economic service calls it.

``GET /internal/energy/pod-hours/?community_id=&month=YYYY-MM`` answers, per
POD of the community, the hourly fed-in and withdrawn energy with the source
each hour came from (official > manual > iot already applied by the energy
service), and whether official data covers the whole month. The route is not
routed by the gateway; the call carries this service's client-credentials
token (scope ``energy:read``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

import httpx
from cerc_shared.service_tokens import ClientCredentials, ClientTokenError

from economic_service.settings import EconomicSettings
from economic_service.tokens import call_with_token


@dataclass(frozen=True)
class PodHour:
    start: datetime
    fed_in_kwh: Decimal
    withdrawn_kwh: Decimal
    source: str


@dataclass(frozen=True)
class CommunityMonthEnergy:
    pods: dict[str, list[PodHour]]
    official_complete: bool


class EnergyUnavailable(RuntimeError):
    """The energy service did not answer as agreed; the run fails with this reason."""


class EnergySource(Protocol):
    async def pod_hours(self, community_id: int, month: str) -> CommunityMonthEnergy: ...


class EnergyClient:
    def __init__(self, settings: EconomicSettings, tokens: ClientCredentials | None) -> None:
        self._url = settings.energy_url.rstrip("/") + "/internal/energy/pod-hours/"
        self._tokens = tokens
        self._timeout = settings.energy_timeout_s

    async def pod_hours(self, community_id: int, month: str) -> CommunityMonthEnergy:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:

                async def send(headers: dict[str, str]) -> httpx.Response:
                    return await http.get(
                        self._url,
                        params={"community_id": community_id, "month": month},
                        headers=headers,
                    )

                response = await call_with_token(self._tokens, send)
        except httpx.HTTPError as exc:
            raise EnergyUnavailable(f"energy service unreachable: {exc}") from exc
        except ClientTokenError as exc:
            raise EnergyUnavailable(f"no service token for the energy service: {exc}") from exc
        if response.status_code != 200:
            raise EnergyUnavailable(
                f"energy service answered {response.status_code}: {response.text[:300]}"
            )
        try:
            data = response.json()["data"]
            pods = {
                item["pod"]: [
                    PodHour(
                        start=datetime.fromisoformat(hour["start"]),
                        fed_in_kwh=Decimal(str(hour["fed_in_kwh"])),
                        withdrawn_kwh=Decimal(str(hour["withdrawn_kwh"])),
                        source=str(hour["source"]),
                    )
                    for hour in item["hours"]
                ]
                for item in data["pods"]
            }
            return CommunityMonthEnergy(pods, bool(data["official_complete"]))
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise EnergyUnavailable(f"energy service answer not understood: {exc!r}") from exc
