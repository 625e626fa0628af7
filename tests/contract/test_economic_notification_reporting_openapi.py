"""Fuzz the economic, notification and reporting services through the gateway
(item 13 of issue 12) as the demo community's manager, with a settlement run
approved, a payout batch, notifications and a report in place (conftest.demo),
so generated ids and bodies reach real rows and deep code."""

from __future__ import annotations

from .conftest import Demo
from .openapi_fuzz import assert_no_5xx, fuzz


def test_economic_service_openapi_has_no_5xx(ports: dict[str, int], demo: Demo) -> None:
    run = fuzz(ports, "economic", demo.manager_token, max_examples=30)
    assert_no_5xx(run)


def test_economic_platform_admin_routes_have_no_5xx(ports: dict[str, int], demo: Demo) -> None:
    # The dated rule parameters and the zonal prices: a platform admin's (403 otherwise).
    run = fuzz(
        ports, "economic", demo.admin_token, max_examples=30,
        paths="^/api/economic/(parameters|prices)/",
    )  # fmt: skip
    assert_no_5xx(run)


def test_notification_service_openapi_has_no_5xx(ports: dict[str, int], demo: Demo) -> None:
    run = fuzz(ports, "notification", demo.manager_token, max_examples=30)
    assert_no_5xx(run)


def test_reporting_service_openapi_has_no_5xx(ports: dict[str, int], demo: Demo) -> None:
    run = fuzz(ports, "reporting", demo.manager_token, max_examples=30)
    assert_no_5xx(run)
