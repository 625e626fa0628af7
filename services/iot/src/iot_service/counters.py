"""From cumulative meter registers to interval energy.

Meters report cumulative registers (kWh since installation); the platform
wants the energy of each interval. For one register of one device we keep the
latest reading (timestamp, kWh) and, for a new reading at ``ts``:

* **first reading**: it is the baseline; no energy yet (the interval before it
  is unknown).
* **normal**: ``kWh - last_kWh`` over ``(last_ts, ts]``. A **gap** (readings
  lost or the device off) is nothing special: the register kept counting, so
  the one reading after the gap carries the whole energy of the gap and its
  ``interval_s`` says how long that was. No energy is lost and none invented.
* **reset** (the register went down by more than ``NOISE_KWH``: reboot,
  firmware update, meter swapped): the register restarted from zero inside
  the interval, so the energy is the new value itself. What was counted
  between the last reading and the reset is unknowable and is lost; assuming
  anything else would invent energy.
* **noise** (down by at most ``NOISE_KWH``, rounding of a float register):
  zero energy, and the higher value is kept so it is not counted twice.
* **stale** (``ts`` at or before the last reading: a redelivery, or a message
  overtaken by a later one): no energy and the state is unchanged. Its energy
  is already inside the reading that overtook it, so totals are conserved;
  only the split between the two intervals is coarser. The bridge does not
  publish such a reading at all, so a (device, timestamp) never carries two
  different energies.

Summed over any sequence, the energy emitted equals the register's growth
since the baseline (plus the post-reset values): nothing is counted twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, NamedTuple

NOISE_KWH = 0.001

Outcome = Literal["baseline", "normal", "reset", "noise", "stale"]


# Named tuples rather than frozen dataclasses: the bridge makes two of each
# per register per reading, and a frozen dataclass costs ~1 us to build.
class RegisterState(NamedTuple):
    ts: datetime
    kwh: float


class Step(NamedTuple):
    outcome: Outcome
    # Energy in (since, ts]; None when the reading gives none.
    energy_kwh: float | None
    since: datetime | None
    state: RegisterState


def advance(state: RegisterState | None, ts: datetime, kwh: float) -> Step:
    if kwh < 0:
        raise ValueError("a cumulative register cannot be negative")
    if state is None:
        return Step("baseline", None, None, RegisterState(ts, kwh))
    if ts <= state.ts:
        return Step("stale", None, None, state)
    delta = kwh - state.kwh
    if delta >= 0:
        return Step("normal", round(delta, 6), state.ts, RegisterState(ts, kwh))
    if -delta <= NOISE_KWH:
        return Step("noise", 0.0, state.ts, RegisterState(ts, state.kwh))
    return Step("reset", round(kwh, 6), state.ts, RegisterState(ts, kwh))
