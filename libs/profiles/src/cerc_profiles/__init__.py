"""Energy profiles as a pure library, hour by hour in Decimal kWh (energy, not money).

- `pv_kwh_per_kw`: clear-sky PV production per kW of panels at a place (pvlib);
- `household_kwh`: a standard household's consumption from its annual kWh (BDEW H25 shape).

No I/O and no services: the energy service's forecasts and the economic simulations build on it.
"""

from cerc_profiles.hours import ITALY, KWH_QUANTUM, HourlyEnergy, ProfileError
from cerc_profiles.household import household_kwh, italian_holidays
from cerc_profiles.pv import DEFAULT_LOSSES_PERCENT, PvArray, pv_kwh_per_kw

__all__ = [
    "DEFAULT_LOSSES_PERCENT",
    "ITALY",
    "KWH_QUANTUM",
    "HourlyEnergy",
    "ProfileError",
    "PvArray",
    "household_kwh",
    "italian_holidays",
    "pv_kwh_per_kw",
]
