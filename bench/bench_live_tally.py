"""CPU cost of live shared energy in the ingester's path (no servers):
what ``LiveTally.add`` costs a reading, and a community's snapshot
(run: `uv run python bench/bench_live_tally.py`, or `make bench`).

The device path's target is 5,000 readings/s; the figure printed beside the
cost is the share of one core the tally takes at that rate. Batches are the
ingester's (every plant reporting once a batch, timestamps 10 s apart), over
5,000 plants in 20 communities and 3 substations. Prints, never asserts.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from energy_service.live import LiveTally, PlantDirectory, PlantPlace
from energy_service.timeseries import EnergyPoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe

PLANTS, BATCHES, RATE = 5_000, 40, 5_000


def main() -> None:
    directory = PlantDirectory()
    directory.merge(
        (p, PlantPlace(p % 20 + 1, f"AC{p % 3}", date(2025, 1, 1), None)) for p in range(PLANTS)
    )
    now = datetime.now(UTC).replace(microsecond=0)
    # Readings of the last ~7 minutes (never before today's local midnight in Rome).
    start = max(now - timedelta(seconds=10 * BATCHES), now.replace(hour=0, minute=1))
    batches = [
        [
            EnergyPoint(
                p,
                "meter",
                "iot",
                start + timedelta(seconds=10 * (b + 1)) if b < BATCHES - 1 else now,
                {"energy_fed_in_kwh": 0.01 * (p % 2), "energy_withdrawn_kwh": 0.01 * (1 - p % 2)},
            )
            for p in range(PLANTS)
        ]
        for b in range(BATCHES)
    ]
    tally = LiveTally(directory)
    per_reading_us = []
    for batch in batches:
        began = time.perf_counter()
        tally.add(batch)
        per_reading_us.append((time.perf_counter() - began) / len(batch) * 1e6)
    counted = tally.readings_counted
    if counted == 0:
        raise SystemExit("the tally counted no reading: the bench's timestamps are not today")
    snapshots_ms = []
    for community in range(1, 21):
        began = time.perf_counter()
        tally.snapshot(community)
        snapshots_ms.append((time.perf_counter() - began) * 1e3)
    median = statistics.median(per_reading_us)
    print(describe())
    print(f"readings counted: {counted} of {PLANTS * BATCHES}")
    print(
        f"LiveTally.add: median {median:.2f} us a reading (max batch {max(per_reading_us):.2f}); "
        f"at {RATE:,} readings/s {median * RATE / 1e4:.1f}% of a core"
    )
    print(
        f"snapshot of a community ({PLANTS // 20} plants): median "
        f"{statistics.median(snapshots_ms):.2f} ms, max {max(snapshots_ms):.2f} ms"
    )


if __name__ == "__main__":
    main()
