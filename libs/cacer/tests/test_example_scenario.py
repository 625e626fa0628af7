"""The example the README points people to stays valid and balanced."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "scenario.json"


def test_example_settles_and_every_cent_is_accounted_for() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "cacer", "settle", "--input", str(EXAMPLE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    total = Decimal(str(out["total_eur"]))
    members = sum(Decimal(str(m["eur"])) for m in out["members"])
    assert members + Decimal(str(out["community_eur"])) == total
    assert total == Decimal(str(out["incentive_eur"])) + Decimal(str(out["refund_eur"]))
    # The granted plant of the public body is reduced by F = 1.25 × 480/1200 = 0.5.
    granted = next(p for p in out["plants"] if p["pod"] == "IT001E00000101")
    assert Decimal(str(granted["grant_reduction_f"])) == Decimal("0.5")
    # Its set exceeds the 45% threshold, so some of the incentive is excess.
    excess = {e["set"]: Decimal(str(e["excess_eur"])) for e in out["excess"]}
    assert excess["tip_with_grant"] > 0 and excess["tip"] == 0
