"""The `cer settle` command, run as a subprocess exactly as a user would."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cacer_scenarios import at, document, member, plant, point, price, reading

SCHEMA = Path(__file__).parents[1] / "scenario.schema.json"
DAY = "2025-06-01"
PV = "IT001E00000001"
HOME = "IT001E00000002"


def example() -> dict[str, Any]:
    return document(
        members=[member("prod"), member("cons")],
        points=[point(PV, "prod", plant=plant(100)), point(HOME, "cons")],
        readings=[
            reading(PV, at(DAY, 10), fed=40),
            reading(HOME, at(DAY, 10), withdrawn=30),
            reading(PV, at(DAY, 11), fed=20),
            reading(HOME, at(DAY, 11), withdrawn=50),
        ],
        prices=[price(at(DAY, 10), 110), price(at(DAY, 11), 170)],
    )


def cer(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cacer", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def settle_file(tmp_path: Path, doc: Any, *extra: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "scenario.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return cer(["settle", "--input", str(path), *extra])


def test_json_output_parses_and_carries_the_settlement(tmp_path: Path) -> None:
    done = settle_file(tmp_path, example())
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    # hand-computed in test_scenarios.test_one_substation_one_plant
    assert out["shared_energy_kwh"] == 50.0
    assert out["zone_shared_energy_kwh"] == 50.0
    assert (out["incentive_eur"], out["refund_eur"], out["total_eur"]) == (5.9, 0.53, 6.43)
    assert out["substations"] == [
        {
            "code": "AC001E00001",
            "zone": "NORD",
            "fed_in_kwh": 60.0,
            "withdrawn_kwh": 80.0,
            "shared_energy_kwh": 50.0,
            "incentivised_shared_energy_kwh": 50.0,
            "incentive_eur": 5.9,
            "refund_eur": 0.53,
        }
    ]
    (p,) = out["plants"]
    assert (p["pod"], p["fed_in_kwh"], p["shared_energy_kwh"]) == (PV, 60.0, 50.0)
    # r = 50/60; (5/6 − 0.55) × 5.90 = 1.6716... -> 1.67
    assert out["excess"] == [
        {"set": "tip", "ratio": 0.833333, "threshold": 0.55, "excess_eur": 1.67}
    ]
    members = {m["id"]: m for m in out["members"]}
    assert set(members["prod"]) >= {"id", "as_producer_eur", "as_consumer_eur", "eur"}
    total_cents = sum(round(m["eur"] * 100) for m in out["members"])
    assert total_cents + round(out["community_eur"] * 100) == 643
    assert "hours" not in out


def test_hours_flag_adds_the_hourly_detail(tmp_path: Path) -> None:
    out = json.loads(settle_file(tmp_path, example(), "--hours").stdout)
    assert len(out["hours"]) == 24
    ten = out["hours"][10]
    assert ten["hour"] == "2025-06-01T10:00:00+02:00"
    assert ten["hour_utc"] == "2025-06-01T08:00:00+00:00"
    assert ten["shared_energy_kwh"] == 30.0
    assert ten["plants"] == [{"pod": PV, "shared_energy_kwh": 30.0, "tip_eur_mwh": 130.0}]


def test_stdin_input() -> None:
    done = cer(["settle", "--input", "-"], stdin=json.dumps(example()))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total_eur"] == 6.43


def test_table_output_is_readable(tmp_path: Path) -> None:
    done = settle_file(tmp_path, example(), "--format", "table", "--hours")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "Total" in text and "6.43 EUR" in text
    assert "AC001E00001" in text and PV in text
    member_lines = [line.split() for line in text.splitlines() if line.startswith(("prod", "cons"))]
    assert [line[0] for line in member_lines] == ["prod", "cons"]
    assert "2025-06-01T10:00:00+02:00" in text
    assert not text.lstrip().startswith("{")


def _broken(mutate: Any) -> dict[str, Any]:
    doc = copy.deepcopy(example())
    mutate(doc)
    return doc


def _set(path: list[Any], value: Any) -> Any:
    def apply(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


INVALID = {
    "unknown POD in a reading": (
        _set(["readings", 1, "pod"], "IT001E99999999"),
        "readings[1].pod: unknown POD",
    ),
    "reading outside the period": (
        _set(["readings", 0, "start"], at("2025-06-02", 10)),
        "readings[0].start: outside the period",
    ),
    "overlapping readings": (
        lambda d: d["readings"].append(reading(PV, at(DAY, 10, 15), fed=1, minutes=15)),
        "readings[4].start: overlaps readings[0] of the same POD",
    ),
    "missing price": (
        lambda d: d["prices"].pop(0),
        "prices: missing price for zone NORD at 2025-06-01T10:00:00+02:00",
    ),
    "negative energy": (
        _set(["readings", 0, "fed_in_kwh"], -1.5),
        "readings[0].fed_in_kwh: must be >= 0",
    ),
    "shares not summing to 1": (
        _set(["distribution", "community"], 0.2),
        "distribution: shares must sum to 1",
    ),
    "unknown zone": (_set(["points", 0, "zone"], "MARS"), "points[0].zone: unknown value 'MARS'"),
    "unknown region": (
        _set(["points", 0, "plant", "region"], "Atlantide"),
        "points[0].plant.region: unknown region 'Atlantide'",
    ),
    "year with no TRASe": (
        lambda d: d.pop("trase_eur_mwh"),
        "trase_eur_mwh: no TRASe value for 2025",
    ),
    "bad POD format": (_set(["points", 1, "pod"], "IT01E123"), "points[1].pod: 'IT01E123'"),
    "unknown member": (_set(["points", 1, "member"], "ghost"), "points[1].member: unknown member"),
    "minutes not 15 or 60": (
        _set(["readings", 0, "minutes"], 30),
        "readings[0].minutes: must be 15 or 60",
    ),
    "fed-in at a point without a plant": (
        _set(["readings", 1, "fed_in_kwh"], 2),
        "readings[1].fed_in_kwh: must be 0: the point has no plant",
    ),
    "timestamp without offset": (
        _set(["readings", 0, "start"], "2025-06-01T10:00:00"),
        "readings[0].start: must be an ISO-8601 instant",
    ),
    "wrong type": (_set(["readings", 0, "withdrawn_kwh"], "3"), "readings[0].withdrawn_kwh"),
    "missing section": (lambda d: d.pop("points"), "points: is required"),
}


@pytest.mark.parametrize("case", list(INVALID), ids=list(INVALID))
def test_invalid_input_exits_2_naming_the_path(tmp_path: Path, case: str) -> None:
    mutate, expected = INVALID[case]
    done = settle_file(tmp_path, _broken(mutate))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_every_problem_gets_its_own_line(tmp_path: Path) -> None:
    def several(doc: dict[str, Any]) -> None:
        doc["readings"][0]["fed_in_kwh"] = -1
        doc["readings"][2]["withdrawn_kwh"] = -2
        doc["distribution"]["producers"] = 0.9

    done = settle_file(tmp_path, _broken(several))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert "readings[0].fed_in_kwh: must be >= 0" in lines
    assert "readings[2].withdrawn_kwh: must be >= 0" in lines
    assert any(line.startswith("distribution: shares must sum to 1") for line in lines)


@pytest.mark.parametrize(
    ("content", "expected"),
    [("{not json", "input: invalid JSON at line 1"), ("[1, 2]", "$: must be an object")],
)
def test_unusable_documents(tmp_path: Path, content: str, expected: str) -> None:
    done = settle_file(tmp_path, content)
    assert done.returncode == 2
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_file_is_status_2(tmp_path: Path) -> None:
    done = cer(["settle", "--input", str(tmp_path / "nope.json")])
    assert done.returncode == 2
    assert "input: cannot read" in done.stderr


def test_the_published_schema_accepts_valid_and_rejects_invalid_documents() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    validator.validate(example())
    readme_example = json.loads(
        (Path(__file__).parents[1] / "README.md").read_text().split("```json\n")[1].split("```")[0]
    )
    validator.validate(readme_example)
    for mutate, _ in (INVALID["minutes not 15 or 60"], INVALID["unknown zone"]):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(_broken(mutate))
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(_broken(lambda d: d["readings"][0].update(extra=1)))
