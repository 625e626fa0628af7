"""CPU cost of live shared energy (no servers): what ``LiveTally.add`` costs
a reading, what the live feed's own reading of ``measurement.v1`` costs a
reading (decoding the bridge's records, then the tally: every replica pays
it for every reading, and again for the day's readings at start), and a
community's snapshot
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

from cerc_shared.events import EventEnvelope
from cerc_shared.events.iot import MeasurementsAccepted, Reading
from energy_service.live import LiveTally, PlantDirectory, PlantPlace
from energy_service.live_feed import records_points
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
    # The feed: the same readings as the bridge's records (one event a plant),
    # decoded and counted by a fresh tally.
    records = [
        [
            EventEnvelope.wrap(
                MeasurementsAccepted(
                    plant_id=point.plant_id,
                    readings=[
                        Reading(
                            device_id=point.device_id,
                            timestamp=point.timestamp,
                            interval_s=10,
                            energy_produced_kwh=point.values["energy_fed_in_kwh"],
                            energy_consumed_kwh=point.values["energy_withdrawn_kwh"],
                            measuring_point="grid_connection",
                        )
                    ],
                ),
                producer="bridge",
                correlation_id=None,
            )
            .model_dump_json()
            .encode()
            for point in batch
        ]
        for batch in batches
    ]
    fed = LiveTally(directory)
    feed_us = []
    for values in records:
        began = time.perf_counter()
        fed.add(records_points(list(values)))
        feed_us.append((time.perf_counter() - began) / len(values) * 1e6)
    if fed.readings_counted != counted:
        raise SystemExit(f"the feed counted {fed.readings_counted} readings, the tally {counted}")
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
    feed = statistics.median(feed_us)
    print(
        f"live feed (decode + add): median {feed:.2f} us a reading; at {RATE:,} readings/s "
        f"{feed * RATE / 1e4:.1f}% of a core per replica; a day read again at start: "
        f"{1e6 / feed:,.0f} readings/s"
    )
    print(
        f"snapshot of a community ({PLANTS // 20} plants): median "
        f"{statistics.median(snapshots_ms):.2f} ms, max {max(snapshots_ms):.2f} ms"
    )


if __name__ == "__main__":
    main()
