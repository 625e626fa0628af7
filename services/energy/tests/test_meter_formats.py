"""The distributor's files read into curves (no servers): every value on the
UTC instant ending its local quarter hour, the 23- and 25-hour days, and each
problem named by file, line, column and what was expected."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from energy_service.imports.formats import parse_file

from .meter_files import by_instant, csv_month, xml_month, zip_of

POD = "IT001E12345678"


def test_csv_of_march_places_the_23_hour_day_right() -> None:
    parsed = parse_file(f"{POD}_202503_immessa.csv", csv_month(2025, 3))
    assert parsed.errors == []
    [curve] = parsed.curves
    assert (curve.pod, curve.direction, curve.month) == (POD, "fed_in", date(2025, 3, 1))
    assert len(curve.values) == 31 * 96 - 4
    assert all(value == by_instant(end) for end, value in curve.values)
    instants = [end for end, _ in curve.values]
    assert instants == sorted(set(instants))
    # 30 March: local 01:45-02:00 CET ends at 01:00Z; the next quarter hour is
    # 03:00-03:15 CEST, ending at 01:15Z. Nothing in between.
    assert datetime(2025, 3, 30, 1, 0, tzinfo=UTC) in instants
    assert datetime(2025, 3, 30, 1, 15, tzinfo=UTC) in instants
    # The first value of the month is local 00:00-00:15 on 1 March (CET).
    assert instants[0] == datetime(2025, 2, 28, 23, 15, tzinfo=UTC)
    assert instants[-1] == datetime(2025, 3, 31, 22, 0, tzinfo=UTC)


def test_csv_of_october_places_the_repeated_hour_on_both_passes() -> None:
    parsed = parse_file(f"{POD}_202510_prelevata.csv", csv_month(2025, 10))
    assert parsed.errors == []
    [curve] = parsed.curves
    assert curve.direction == "withdrawn"
    assert len(curve.values) == 31 * 96 + 4
    assert all(value == by_instant(end) for end, value in curve.values)
    instants = {end for end, _ in curve.values}
    # 26 October: 02:00-02:15 CEST ends 00:15Z, 02:00-02:15 CET ends 01:15Z.
    assert {
        datetime(2025, 10, 26, 0, 15, tzinfo=UTC),
        datetime(2025, 10, 26, 1, 15, tzinfo=UTC),
    } <= instants


def test_csv_errors_name_file_line_column_and_expectation() -> None:
    data = csv_month(2025, 3, overrides={(2, 3): '"abc"', (30, 10): '"0,1"'})
    parsed = parse_file(f"{POD}_202503_immessa.csv", data)
    assert parsed.curves == []
    found = {(e.line, e.column, e.expected) for e in parsed.errors}
    # Day 2 is line 3 (header first); its third value, 00:30-00:45, is in
    # spreadsheet column D (A holds the day).
    assert (3, "D", "kWh like 0,125") in found
    # 30 March, 02:15-02:30 (tenth value, column K) does not exist: must be empty.
    assert (31, "K", "empty") in found
    assert len(parsed.errors) == 2


def test_a_csv_the_csv_module_cannot_read_is_refused_not_failed() -> None:
    # A cell longer than the csv module's 128 KiB limit (seen: a multi-MiB upload of junk).
    data = b"Giorno;" + b"x" * (200 * 1024) + b"\r\n"
    parsed = parse_file(f"{POD}_202503_immessa.csv", data)
    assert parsed.curves == []
    [error] = parsed.errors
    assert (error.line, error.expected) == (1, "a quarter-hour CSV (Giorno;00:00-00:15;...)")
    assert "field larger than field limit" in error.message


def test_an_october_csv_without_the_repeated_columns_is_refused_on_that_day() -> None:
    parsed = parse_file(f"{POD}_202510_immessa.csv", csv_month(2025, 10, repeated_hour=False))
    assert parsed.curves == []
    [error] = parsed.errors
    assert error.line == 27  # 26 October
    assert error.expected.startswith("100 quarter hours on 26/10/2025")


def test_csv_needs_a_pod_and_a_direction_that_agree() -> None:
    parsed = parse_file("march.csv", csv_month(2025, 3))
    assert {e.message for e in parsed.errors} == {"no POD", "no direction"}
    parsed = parse_file("march.csv", csv_month(2025, 3), pod=POD, direction="withdrawn")
    assert parsed.errors == [] and parsed.curves[0].direction == "withdrawn"
    parsed = parse_file(f"{POD}_immessa.csv", csv_month(2025, 3), direction="withdrawn")
    assert [e.message for e in parsed.errors] == ["file name says fed_in"]


def test_xml_flusso_misure_with_both_daylight_saving_days_and_estimates() -> None:
    data = xml_month(
        [(POD, "Immessa"), ("IT001E87654321", "Prelevata")], 2025, 10, estimated_days={3}
    )
    parsed = parse_file("flusso.xml", data)
    assert parsed.errors == []
    first, second = parsed.curves
    assert (first.pod, first.direction, second.pod, second.direction) == (
        POD, "fed_in", "IT001E87654321", "withdrawn",
    )  # fmt: skip
    assert len(first.values) == 31 * 96 + 4
    assert all(value == by_instant(end) for end, value in first.values)
    assert first.estimated_days == {date(2025, 10, 3)}
    assert first.total_kwh == sum((v for _, v in first.values), Decimal(0))
    march = parse_file("m.xml", xml_month([(POD, "Immessa")], 2025, 3))
    assert len(march.curves[0].values) == 31 * 96 - 4


def test_xml_errors_are_precise_and_leave_no_curve() -> None:
    wrong_flag = parse_file("f.xml", xml_month([(POD, "Immessa")], 2025, 3, drop_flag_on=30))
    assert [e.expected for e in wrong_flag.errors] == ['CambioOra="S" (92 quarter hours)']
    assert wrong_flag.curves == []
    short = parse_file("f.xml", xml_month([(POD, "Immessa")], 2025, 6, short_day=4))
    [error] = short.errors
    assert error.column == "DatiPod[1]/Curva/Ea[@Giorno='04']"
    assert error.expected == "96 quarter hours on 04/06/2025" and error.message == "95"
    bad = parse_file("f.xml", b"<FlussoMisure><DatiPod><Pod>XX</Pod></DatiPod>")
    assert bad.errors and bad.errors[0].expected.startswith("well-formed XML")
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><FlussoMisure>&a;</FlussoMisure>'
    assert parse_file("b.xml", bomb).errors[0].expected.startswith("well-formed XML")


def test_a_zip_is_read_whole_and_one_bad_member_refuses_it_all() -> None:
    good = {
        f"{POD}_202506_immessa.csv": csv_month(2025, 6),
        f"{POD}_202506_prelevata.csv": csv_month(2025, 6),
        "flusso.xml": xml_month([("IT001E87654321", "Prelevata")], 2025, 6),
    }
    parsed = parse_file("june.zip", zip_of(good))
    assert parsed.errors == [] and len(parsed.curves) == 3
    bad = parse_file("june.zip", zip_of({**good, "x.csv": csv_month(2025, 6)}))
    assert parsed.curves and bad.curves == []
    assert [(e.file, e.message) for e in bad.errors] == [
        ("june.zip/x.csv", "no POD"), ("june.zip/x.csv", "no direction"),
    ]  # fmt: skip
