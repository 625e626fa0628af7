"""The engine's input document carries prices, shares, TRASe and a plant's cost cap as
decimal strings: the Numeric values of the tables reach the engine digit for digit."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from cacer import parse_scenario
from cerc_shared.readmodels import MembershipPeriod, PlantFacts, PlantPeriod, SharesPeriod
from economic_service.energy import CommunityMonthEnergy, PodHour
from economic_service.service.engine_input import build_engine_input

POD = "IT001E12345678"


def test_money_inputs_are_decimal_strings_the_engine_reads_exactly() -> None:
    hour = datetime(2024, 6, 1, 10, tzinfo=UTC)
    price = Decimal("123.456789")  # beyond what a float keeps exactly
    document = build_engine_input(
        period="2024-06",
        stays=[PlantPeriod(7, 1, 42, date(2024, 1, 1), None)],
        plants={
            7: PlantFacts(
                plant_id=7,
                pod=POD,
                community_id=1,
                owner_user_id=42,
                valid_from=date(2024, 1, 1),
                valid_to=None,
                name=None,
                plant_type="PROSUMER",
                nominal_power_kw=Decimal("19.8"),
                technology="PV",
                entry_into_service=date(2024, 5, 1),
                region="Lombardia",
                primary_substation="AC001E00001",
                market_zone="NORD",
                capital_grant_eur_per_kw=Decimal(300),
                connection_voltage="BT",
            )
        },
        memberships=[
            MembershipPeriod(1, 1, 42, "MEMBER", "PRIVATE", "NONE", date(2024, 1, 1), None)
        ],
        shares=SharesPeriod(date(2024, 1, 1), Decimal("45.5"), Decimal("30"), Decimal("24.5")),
        energy=CommunityMonthEnergy(
            {POD: [PodHour(hour, Decimal("2.5"), Decimal("1.25"), "iot")]}, False
        ),
        prices=[("NORD", hour, price)],
        trase_eur_mwh=Decimal("10.57"),
        cost_cap_by_plant={7: Decimal("1350.5")},
    ).document
    assert document["prices"][0]["eur_mwh"] == "123.456789"
    assert document["trase_eur_mwh"] == "10.57"
    assert document["distribution"] == {
        "producers": "0.455", "consumers": "0.3", "community": "0.245",
    }  # fmt: skip
    assert document["points"][0]["plant"]["max_eligible_cost_eur_per_kw"] == "1350.5"
    scenario = parse_scenario(document)
    assert scenario.trase_eur_mwh == Decimal("10.57")
    assert scenario.distribution.producers == Decimal("0.455")
    assert scenario.points[0].plant is not None
    assert scenario.points[0].plant.max_eligible_cost_eur_per_kw == Decimal("1350.5")
