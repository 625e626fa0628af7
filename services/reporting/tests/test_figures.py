"""The owning services asked with the service's own client-credentials token
(the kernel's ClientCredentials) against the stand-in's token endpoint."""

from __future__ import annotations

import pytest
from reporting_service.figures import FiguresUnavailable, HttpFigures, token_source
from reporting_service.settings import ReportingSettings

from .conftest import Community, StandIn


async def test_a_refused_token_is_fetched_again_once(
    maker: object, stand_in: tuple[StandIn, int]
) -> None:
    served, port = stand_in
    c = Community(maker, served)  # type: ignore[arg-type]
    sample = await c.create("2025-06", members=3)
    served.clients["cerc-test-reporting"] = "reporting-test-secret"
    url = f"http://127.0.0.1:{port}"
    settings = ReportingSettings(
        environment="test",
        energy_url=url,
        economic_url=url,
        token_url=f"{url}/api/auth/token/",
        client_id="cerc-test-reporting",
        client_secret="reporting-test-secret",
    )
    figures = HttpFigures.from_settings(settings, token_source(settings))
    try:
        issued = served.issued
        runs = await figures.settlements(c.id, "2025-06")
        assert [r.total_cents for r in runs] == [sample.settlement_total_cents]
        await figures.energy_month(c.id, "2025-06")
        assert served.issued == issued + 1  # one token for both calls
        # The peer stops accepting it (keys rotated): one new token, the call succeeds.
        served.accepted = {a for a in served.accepted if not a.startswith("Bearer issued-")}
        await figures.energy_month(c.id, "2025-06")
        assert served.issued == issued + 2
        # The client revoked: the job fails saying why, it does not hang or retry for ever.
        served.accepted = {a for a in served.accepted if not a.startswith("Bearer issued-")}
        del served.clients["cerc-test-reporting"]
        with pytest.raises(FiguresUnavailable, match="no service token"):
            await figures.energy_month(c.id, "2025-06")
    finally:
        await figures.close()
