"""The CER service's internal API, as payouts call it.

``GET /internal/cer/communities/{id}/payees/`` answers each member's (and past
member's) name and IBAN in clear, to this service's client token with the scope
``registry:read-iban``. IBANs are asked for when a payout is made and never kept
beyond the file: they never travel in events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx
from cerc_shared.service_tokens import ClientCredentials, ClientTokenError

from economic_service.settings import EconomicSettings
from economic_service.tokens import call_with_token


@dataclass(frozen=True)
class Payee:
    user_id: int
    name: str | None
    iban: str | None


class PayeesUnavailable(RuntimeError):
    """The CER service did not answer as agreed; no payout is made."""


class PayeeSource(Protocol):
    async def payees(self, community_id: int) -> dict[int, Payee]: ...


class PayeesClient:
    def __init__(self, settings: EconomicSettings, tokens: ClientCredentials | None) -> None:
        self._base = settings.cer_url.rstrip("/") + "/internal/cer/communities/"
        self._tokens = tokens
        self._timeout = settings.energy_timeout_s

    async def payees(self, community_id: int) -> dict[int, Payee]:
        url = f"{self._base}{community_id}/payees/"
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:

                async def send(headers: dict[str, str]) -> httpx.Response:
                    return await http.get(url, headers=headers)

                response = await call_with_token(self._tokens, send)
        except httpx.HTTPError as exc:
            raise PayeesUnavailable(f"CER service unreachable: {exc}") from exc
        except ClientTokenError as exc:
            raise PayeesUnavailable(f"no service token for the CER service: {exc}") from exc
        if response.status_code != 200:
            raise PayeesUnavailable(
                f"CER service answered {response.status_code}: {response.text[:300]}"
            )
        try:
            return {
                int(item["user_id"]): Payee(
                    int(item["user_id"]),
                    None if item["name"] is None else str(item["name"]),
                    None if item["iban"] is None else str(item["iban"]),
                )
                for item in response.json()["data"]
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise PayeesUnavailable(f"CER service answer not understood: {exc!r}") from exc
