"""The market operator's price files, built here by hand as it publishes them, read to Decimal."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from cacer import parse_scenario, settle
from cacer.demo_prices import demo_year, to_market_xml, to_market_zip
from cacer.market_prices import (
    DayPrices,
    PriceFileError,
    engine_prices,
    hourly_price_of_quarters,
    hourly_zonal_prices,
    parse_price_number,
    parse_price_xml,
    parse_price_zip,
)
from cacer.parameters import MarketZone
from cacer_scenarios import at, document, member, plant, point, price, reading

ZONES = ("CALA", "CNOR", "CSUD", "NORD", "SARD", "SICI", "SUD")


def _value(zone: str, n: int) -> str:
    """A distinct price per zone and interval, with a decimal comma: NORD 3 -> '103,250000'."""
    return f"{100 + ZONES.index(zone) * 10 + n},{n * 250 % 1000:03d}000"


def _hourly_xml(day: str, hours: int, *, market: str = "MGP", extra: str = "") -> bytes:
    rows = []
    for h in range(1, hours + 1):
        zones = "".join(f"<{z}>{_value(z, h)}</{z}>" for z in ZONES)
        rows.append(
            f"<Prezzi><Data>{day}</Data><Mercato>{market}</Mercato><Ora>{h}</Ora>"
            f"<PUN>{_value('NORD', h)}</PUN>{zones}<AUST>1,5</AUST><XFRA></XFRA>{extra}</Prezzi>"
        )
    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<NewDataSet>'
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" id="NewDataSet"/>'
        + "".join(rows)
        + "</NewDataSet>"
    ).encode("iso-8859-1")


def _quarter_xml(day: str, periods: int, price: str = "{z}") -> bytes:
    rows = []
    for n in range(1, periods + 1):
        zones = "".join(f"<{z}>{price.format(z=_value(z, n), n=n)}</{z}>" for z in ("NORD", "SICI"))
        rows.append(
            f"<Prezzi15><Data>{day}</Data><Mercato>MGP</Mercato><Periodo>{n}</Periodo>"
            f"<Granularity>PT15</Granularity><PUN>90,5</PUN><NAT>90,5</NAT>{zones}</Prezzi15>"
        )
    return ("<NewDataSet>" + "".join(rows) + "</NewDataSet>").encode()


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _utc(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp())


def test_an_hourly_file_reads_every_italian_zone_to_decimal_and_ignores_the_others() -> None:
    d = parse_price_xml(_hourly_xml("20250612", 24))
    assert (d.day, d.interval_minutes, d.hours) == (date(2025, 6, 12), 60, 24)
    assert sorted(z.value for z in d.zones) == sorted(ZONES)
    # NORD, Ora 3: 100 + 30 + 3 = 133, decimals 3 × 250 = 750 -> 133,750000
    assert d.zones[MarketZone.NORD][2] == Decimal("133.750000")
    assert d.zones[MarketZone.CALA][23] == Decimal("124.000000")
    assert d.pun is not None and d.pun[0] == Decimal("131.250000")
    # Ora 1 is the hour from local midnight (22:00 UTC the day before, in summer time)
    assert d.interval_starts_utc()[0] == _utc("2025-06-12T00:00:00+02:00")
    assert d.hourly() == d.zones


@pytest.mark.parametrize(
    ("day", "hours", "second_label_utc"),
    [
        ("20250330", 23, "2025-03-30T03:00:00+02:00"),  # 02:00 does not exist
        ("20251026", 25, "2025-10-26T02:00:00+02:00"),  # 02:00 twice
    ],
)
def test_days_of_23_and_25_hours(day: str, hours: int, second_label_utc: str) -> None:
    d = parse_price_xml(_hourly_xml(day, hours))
    assert d.hours == hours and len(d.zones[MarketZone.NORD]) == hours
    starts = d.interval_starts_utc()
    assert len(starts) == hours and starts[2] == _utc(second_label_utc)
    # one hour more or fewer than the day has is refused
    with pytest.raises(PriceFileError) as e:
        parse_price_xml(_hourly_xml(day, 24))
    if hours == 23:
        assert "Ora '24', expected 1..23 on 2025-03-30" in str(e.value)
    else:
        assert "Ora missing on 2025-10-26: 25" in str(e.value)


def test_quarter_hour_file_gives_the_hourly_price_as_the_mean_of_four_quarters() -> None:
    prices = ["100,000001", "100,000002", "100,000002", "100,000001"]  # mean 100.0000015
    xml = _quarter_xml("20251015", 96, price="{z}")
    d = parse_price_xml(xml)
    assert (d.interval_minutes, len(d.zones[MarketZone.NORD])) == (15, 96)
    assert set(d.zones) == {MarketZone.NORD, MarketZone.SICI}
    # NORD periods 1..4: 131,250 / 132,500 / 133,750 / 134,000 -> mean 132.875
    assert d.hourly()[MarketZone.NORD][0] == Decimal("132.875000")
    assert len(d.hourly()[MarketZone.SICI]) == 24
    # half a micro-euro rounds up
    assert hourly_price_of_quarters([Decimal(p.replace(",", ".")) for p in prices]) == Decimal(
        "100.000002"
    )
    assert d.interval_starts_utc()[1] - d.interval_starts_utc()[0] == 900


def test_quarter_hour_days_of_92_and_100_periods() -> None:
    assert len(parse_price_xml(_quarter_xml("20260329", 92)).hourly()[MarketZone.NORD]) == 23
    assert len(parse_price_xml(_quarter_xml("20261025", 100)).hourly()[MarketZone.NORD]) == 25
    with pytest.raises(PriceFileError, match=re.escape("Periodo '97', expected 1..96")):
        parse_price_xml(_quarter_xml("20251015", 97))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("112,345678", Decimal("112.345678")),
        ("-3,5", Decimal("-3.5")),
        ("0", Decimal("0")),
        ("1.234,5", Decimal("1234.5")),
        ("112.34", None),  # a dot is never the decimal mark
        ("12,3,4", None),
        ("", None),
        ("abc", None),
    ],
)
def test_price_numbers_have_a_decimal_comma(text: str, value: Decimal | None) -> None:
    assert parse_price_number(text) == value


def test_bad_files_are_refused_with_every_problem_named() -> None:
    bad = (
        _hourly_xml("20250612", 24)
        .replace(b"<NORD>133,750000</NORD>", b"<NORD>133.75</NORD>")
        .replace(b"<Ora>5</Ora>", b"<Ora>4</Ora>")
    )
    with pytest.raises(PriceFileError) as e:
        parse_price_xml(bad, "20250612MGPPrezzi.xml")
    assert e.value.problems == [
        "20250612MGPPrezzi.xml: row 5: Ora 4 again (row 4)",
        "20250612MGPPrezzi.xml: row 3 (Ora 3): NORD '133.75' is not a price "
        "(decimal comma, as 112,345678)",
    ]
    with pytest.raises(PriceFileError) as e:
        parse_price_xml(
            _hourly_xml("20250612", 24).replace(b"<SUD>163,750000</SUD>", b"<SUD></SUD>")
        )
    assert e.value.problems == [
        "row 3 (Ora 3): SUD '' is not a price (decimal comma, as 112,345678)"
    ]
    with pytest.raises(PriceFileError, match="Mercato 'MI1', expected MGP"):
        parse_price_xml(_hourly_xml("20250612", 24, market="MI1"))
    with pytest.raises(PriceFileError, match="not a date YYYYMMDD"):
        parse_price_xml(_hourly_xml("20250631", 24))
    with pytest.raises(PriceFileError, match="not well-formed XML"):
        parse_price_xml(b"<NewDataSet><Prezzi>")
    with pytest.raises(PriceFileError, match="no <Prezzi> or <Prezzi15> rows"):
        parse_price_xml(b"<NewDataSet/>")
    many_bad = _hourly_xml("20250612", 24).replace(b",", b";")
    with pytest.raises(PriceFileError) as e:
        parse_price_xml(many_bad)
    # 24 hours × 8 columns wrong: 20 lines, then one summary line
    assert len(e.value.problems) == 21
    assert e.value.problems[-1] == "172 more: number"


def test_a_dtd_is_refused_before_any_parsing() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><NewDataSet>&b;</NewDataSet>'
    )
    with pytest.raises(PriceFileError, match="DTD or entity declaration"):
        parse_price_xml(bomb)


def test_a_zip_of_days_in_both_formats() -> None:
    data = _zip(
        {
            "20251014MGPPrezzi.xml": _hourly_xml("20251014", 24),
            "20251015MGPPrezzi15.xml": _quarter_xml("20251015", 96),
            "20251015MGPPrezzi.xml": _hourly_xml("20251015", 24),
            "Legend.txt": b"not a price file",
        }
    )
    days = parse_price_zip(data)
    assert [(d.day.day, d.interval_minutes) for d in days] == [(14, 60), (15, 15), (15, 60)]
    hourly = hourly_zonal_prices(days)
    on_15 = [r for r in hourly if r.zone is MarketZone.NORD and r.start_utc >= days[1].start_utc]
    # the 15th's hourly price is derived from its quarters, not taken from its hourly file
    assert on_15[0].eur_mwh == Decimal("132.875000") != days[2].zones[MarketZone.NORD][0]
    assert len(on_15) == 24 and {r.minutes for r in hourly} == {60}
    # the 15th's quarter file has only NORD and SICI: no hourly CALA that day
    assert not [
        r for r in hourly if r.zone is MarketZone.CALA and r.start_utc >= on_15[0].start_utc
    ]
    prices = engine_prices(hourly)
    assert len(prices.zone) == len(hourly) == 24 * 7 + 24 * 2


def test_bad_zips_are_refused() -> None:
    with pytest.raises(PriceFileError, match="not a ZIP file"):
        parse_price_zip(b"PK nothing")
    with pytest.raises(PriceFileError, match=re.escape("no .xml file")):
        parse_price_zip(_zip({"a.txt": b"x"}))
    with pytest.raises(PriceFileError, match="larger than 1000 bytes"):
        parse_price_zip(_zip({"big.xml": _hourly_xml("20250612", 24)}), max_member_bytes=1000)
    twice = _zip({"a.xml": _hourly_xml("20250612", 24), "b.xml": _hourly_xml("20250612", 24)})
    with pytest.raises(
        PriceFileError, match=re.escape("b.xml: a second 60-minute file for 2025-06-12")
    ):
        parse_price_zip(twice)
    broken = _zip({"20250612MGPPrezzi.xml": b"<NewDataSet><Prezzi>"})
    with pytest.raises(
        PriceFileError, match=re.escape("20250612MGPPrezzi.xml: not well-formed XML")
    ):
        parse_price_zip(broken)


def test_demo_year_is_deterministic_complete_and_reads_back_through_the_parser() -> None:
    year = demo_year(2025)
    assert len(year) == 365
    assert year == demo_year(2025)
    assert year != demo_year(2025, seed=1)
    by_day = {d.day: d for d in year}
    assert by_day[date(2025, 9, 30)].interval_minutes == 60
    assert by_day[date(2025, 10, 1)].interval_minutes == 15
    assert len(by_day[date(2025, 3, 30)].zones[MarketZone.NORD]) == 23
    assert len(by_day[date(2025, 10, 26)].zones[MarketZone.SICI]) == 100
    for d in year:
        assert set(d.zones) == set(MarketZone)
    hourly = hourly_zonal_prices(year)
    assert len(hourly) == 7 * (365 * 24)  # 23 + 25 hours cancel out
    values = [r.eur_mwh for r in hourly]
    assert all(v >= 0 for v in values)
    mean = sum(values, Decimal(0)) / len(values)
    assert Decimal(80) < mean < Decimal(140)
    archive = to_market_zip(year[:3] + year[-3:])
    assert archive == to_market_zip(year[:3] + year[-3:])  # same bytes every time
    assert parse_price_zip(archive) == year[:3] + year[-3:]


def test_the_written_file_is_the_operators_format() -> None:
    day = DayPrices(
        day=date(2025, 6, 12),
        interval_minutes=60,
        zones={MarketZone.NORD: tuple(Decimal("1234.5") for _ in range(24))},
    )
    text = to_market_xml(day).decode("iso-8859-1")
    assert "<Prezzi><Data>20250612</Data><Mercato>MGP</Mercato><Ora>1</Ora>" in text
    assert "<NORD>1234,5</NORD>" in text
    assert parse_price_xml(to_market_xml(day)) == day


def test_parsed_prices_settle_through_the_engine() -> None:
    pv, home = "IT001E00000001", "IT001E00000002"
    doc = document(
        members=[member("a"), member("b")],
        points=[point(pv, "a", plant=plant(100)), point(home, "b")],
        readings=[
            reading(pv, at("2025-06-12", 10), fed=10),
            reading(home, at("2025-06-12", 10), withdrawn=10),
        ],
        prices=[price(at("2025-06-12", 10), 999)],  # replaced below
        start="2025-06-12",
        end="2025-06-13",
    )
    day = parse_price_xml(_hourly_xml("20250612", 24))
    scenario = replace(parse_scenario(doc), prices=engine_prices(hourly_zonal_prices([day])))
    s = settle(scenario)
    # 10:00 local is Ora 11: NORD 100 + 30 + 11 = 141,750000 €/MWh
    # TIP = min(120; 80 + 180 − 141.75) + 10 = 128.25 €/MWh × 10 kWh = 1.2825 € -> 1.28
    assert s.hourly.plant_tip_before_reduction_micro[0, 10] == 128_250_000
    assert s.incentive_cents == 128
