"""Benchmark of the reporting service's rendering (run: `uv run python
bench/bench_reports.py`, or `make bench`).

1. The monthly report of a 1,000-member community (a whole month, hourly,
   settled by the real rules engine) as a PDF with its charts: compose +
   render timed (the specification allows 30 s; the target is < 3 s), and as
   XLSX and CSV beside it.
2. 1,000 member statements of that month as one batch (PDF, one per member,
   on one core as one report worker makes them), timed in all and per statement.

Figures come from memory (reporting_service.sample), not over HTTP: this
measures the reports, not the owning services. Prints figures only.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe
from pypdf import PdfReader
from reporting_service.figures import day_of
from reporting_service.render.formats import render
from reporting_service.sample import sample_month
from reporting_service.service import compose

MEMBERS = 1_000
MONTH = "2025-06"


def main() -> None:
    print(f"machine: {describe()}")
    t0 = time.perf_counter()
    sample = sample_month(4242, MONTH, MEMBERS)
    hours = sum(len(h) for h in sample.energy.pods.values())
    print(
        f"setup: {MEMBERS} members, {hours:,} POD hours settled by cacer "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    now = datetime.now(UTC)
    runs = {MONTH: sample.run}
    days = [day_of(d) for d in sample.days_answer]
    # One warm-up: the first PDF imports and loads fonts once per process.
    render(compose.monthly_report(sample.ctx, MONTH, "it", sample.energy, runs, now, days), "PDF")
    for fmt in ("PDF", "XLSX", "CSV"):
        times, size, pages = [], 0, 0
        for _ in range(3):
            t = time.perf_counter()
            document = compose.monthly_report(
                sample.ctx, MONTH, "it", sample.energy, runs, now, days
            )
            rendered = render(document, fmt)
            times.append(time.perf_counter() - t)
            size = len(rendered.data)
        if fmt == "PDF":
            pages = len(PdfReader(io.BytesIO(rendered.data)).pages)
        extra = f", {pages} pages" if pages else ""
        print(
            f"monthly report, {MEMBERS} members, {fmt}: median {statistics.median(times):.2f} s "
            f"(min {min(times):.2f}, max {max(times):.2f}) of 3; {size / 1024:.0f} KiB{extra}"
        )
    energy = {MONTH: sample.energy}
    t = time.perf_counter()
    per: list[float] = []
    total_bytes = 0
    for member in sample.run.members:
        s = time.perf_counter()
        document = compose.member_statement(
            sample.ctx, member.user_id, MONTH, "it", energy, runs, [], now
        )
        total_bytes += len(render(document, "PDF").data)
        per.append(time.perf_counter() - s)
    elapsed = time.perf_counter() - t
    print(
        f"{len(per)} member statements (PDF) as one batch: {elapsed:.1f} s, "
        f"{len(per) / elapsed:.1f} statements/s; per statement median "
        f"{statistics.median(per) * 1000:.0f} ms, p95 "
        f"{sorted(per)[int(len(per) * 0.95)] * 1000:.0f} ms; {total_bytes / 2**20:.1f} MiB"
    )


if __name__ == "__main__":
    main()
