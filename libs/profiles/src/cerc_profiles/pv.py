"""Clear-sky PV production per kW of installed panels, hour by hour, from pvlib.

The sky is the Ineichen clear sky with the Linke turbidity climatology pvlib ships (so a hazy
Po valley summer differs from a clear Sicilian one), transposed onto a fixed plane with the
Hay-Davies model; the array is PVWatts: DC power proportional to plane irradiance, derated by
cell temperature (Faiman model at a fixed air temperature and wind), by PVWatts' default system
losses (soiling, shading, mismatch, wiring, LID, availability: 14.08 %) and by the PVWatts
inverter efficiency curve. The result is AC energy in kWh per kW of DC nameplate: an upper
envelope a real plant reaches on a cloudless day. A forecaster scales it by the plant's own
performance ratio (its measured output over this envelope), which absorbs clouds, orientation
errors and ageing without pretending to know them.

Each hour is integrated from twelve five-minute samples at their midpoints, so sunrise and
sunset hours get their partial energy instead of a noon-or-nothing value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import pvlib

from cerc_profiles.hours import HOUR, HourlyEnergy, ProfileError, hour_starts, to_kwh

SAMPLES_PER_HOUR = 12
# PVWatts' default loss breakdown (soiling 2, shading 3, mismatch 2, wiring 2, connections 0.5,
# LID 1.5, nameplate 1, availability 3), combined multiplicatively by pvlib: 14.08 %.
DEFAULT_LOSSES_PERCENT = float(pvlib.pvsystem.pvwatts_losses())


@dataclass(frozen=True)
class PvArray:
    """A fixed PV array. Defaults: a south-facing roof at 30° in Italy, crystalline silicon.

    `azimuth_deg` is pvlib's convention, degrees clockwise from north (180 = south, 90 = east).
    """

    tilt_deg: float = 30.0
    azimuth_deg: float = 180.0
    losses_percent: float = DEFAULT_LOSSES_PERCENT
    # Temperature coefficient of power of crystalline silicon, per °C above 25 °C.
    gamma_pdc_per_c: float = -0.004
    # Clear-sky hours with no weather data: a mild day and a light breeze for the cell model.
    air_temperature_c: float = 20.0
    wind_speed_m_s: float = 1.0
    albedo: float = 0.25
    altitude_m: float | None = field(default=None)  # None: pvlib's elevation map at the site

    def check(self) -> None:
        if not 0.0 <= self.tilt_deg <= 90.0:
            raise ProfileError("tilt_deg: expected 0 to 90 degrees")
        if not 0.0 <= self.azimuth_deg <= 360.0:
            raise ProfileError("azimuth_deg: expected 0 to 360 degrees clockwise from north")
        if not 0.0 <= self.losses_percent < 100.0:
            raise ProfileError("losses_percent: expected 0 to less than 100")
        if not 0.0 <= self.albedo <= 1.0:
            raise ProfileError("albedo: expected 0 to 1")


def pv_kwh_per_kw(
    latitude: float,
    longitude: float,
    start: datetime,
    end: datetime,
    array: PvArray | None = None,
) -> list[HourlyEnergy]:
    """Clear-sky AC energy per kW of DC nameplate in each hour of [start, end).

    `start` and `end` are aware instants on whole hours (any zone; Italian local midnights are
    whole UTC hours). Hours come back labelled by their UTC start; never negative, zero at night.
    """
    array = array or PvArray()
    array.check()
    if not -90.0 <= latitude <= 90.0:
        raise ProfileError("latitude: expected -90 to 90 degrees")
    if not -180.0 <= longitude <= 180.0:
        raise ProfileError("longitude: expected -180 to 180 degrees")
    starts = hour_starts(start, end)
    kw = _ac_kw_per_kw(latitude, longitude, starts, array)
    hourly = kw.reshape(len(starts), SAMPLES_PER_HOUR).mean(axis=1)  # mean kW over 1 h = kWh
    return [HourlyEnergy(s, to_kwh(float(e))) for s, e in zip(starts, hourly, strict=True)]


def _ac_kw_per_kw(
    latitude: float, longitude: float, starts: list[datetime], array: PvArray
) -> np.typing.NDArray[np.float64]:
    step = HOUR / SAMPLES_PER_HOUR
    times = pd.DatetimeIndex(
        [s + step * i + step / 2 for s in starts for i in range(SAMPLES_PER_HOUR)]
    )
    site = pvlib.location.Location(latitude, longitude, tz="UTC", altitude=array.altitude_m)
    sun = site.get_solarposition(times)
    sky = site.get_clearsky(times, model="ineichen", solar_position=sun)
    poa = pvlib.irradiance.get_total_irradiance(
        surface_tilt=array.tilt_deg,
        surface_azimuth=array.azimuth_deg,
        solar_zenith=sun["apparent_zenith"],
        solar_azimuth=sun["azimuth"],
        dni=sky["dni"],
        ghi=sky["ghi"],
        dhi=sky["dhi"],
        dni_extra=pvlib.irradiance.get_extra_radiation(times),
        albedo=array.albedo,
        model="haydavies",
    )
    plane = poa["poa_global"].fillna(0.0).clip(lower=0.0)
    cell_c = pvlib.temperature.faiman(plane, array.air_temperature_c, array.wind_speed_m_s)
    dc = pvlib.pvsystem.pvwatts_dc(plane, cell_c, pdc0=1.0, gamma_pdc=array.gamma_pdc_per_c)
    dc = dc * (1.0 - array.losses_percent / 100.0)
    ac = pvlib.inverter.pvwatts(dc, pdc0=1.0)
    return np.clip(np.nan_to_num(np.asarray(ac, dtype=np.float64)), 0.0, None)
