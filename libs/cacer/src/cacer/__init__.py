"""The CACER rules (MASE decree 414/2023, GSE Regole operative, ARERA TIAD) as pure functions.

Entry points: `parse_scenario(document) -> Scenario` and `settle(scenario) -> Settlement`.
"""

from cacer.scenario import (
    Member,
    Period,
    Plant,
    Point,
    Prices,
    Problem,
    Readings,
    Scenario,
    ScenarioError,
    Shares,
    check_scenario,
    parse_scenario,
)
from cacer.settlement import Settlement, settle

__all__ = [
    "Member",
    "Period",
    "Plant",
    "Point",
    "Prices",
    "Problem",
    "Readings",
    "Scenario",
    "ScenarioError",
    "Settlement",
    "Shares",
    "check_scenario",
    "parse_scenario",
    "settle",
]
