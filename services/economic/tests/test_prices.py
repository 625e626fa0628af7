"""Zonal prices: the market operator's files imported by a platform admin, read by anyone
signed in, and used by settlement runs (which fail naming the hours without a price).

Prices are shared by every community, so each test works on days of its own."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
from cacer.demo_prices import demo_day, to_market_xml, to_market_zip
from cacer.market_prices import DayPrices, hourly_price_of_quarters
from cacer.parameters import MarketZone
from economic_service.models import MarketPrice, PriceImport, ZonalPrice
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import auth, new_id

URL = "/api/economic/prices/imports/"


def admin() -> dict[str, str]:
    return auth(new_id(), "ADMIN")


def days(first: date, count: int, minutes: int = 60, seed: int = 1) -> list[DayPrices]:
    rng = random.Random(seed)
    return [demo_day(first + timedelta(days=k), rng, minutes) for k in range(count)]


async def upload(
    client: httpx.AsyncClient, name: str, data: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(
        URL, files={"file": (name, data, "application/octet-stream")}, headers=headers or admin()
    )


async def stored(maker: async_sessionmaker[AsyncSession], first: date, last: date) -> int:
    from economic_service.service.prices import local_day_start

    start, end = local_day_start(first), local_day_start(last + timedelta(days=1))
    async with maker() as session:
        zonal = await session.scalar(
            select(func.count())
            .select_from(ZonalPrice)
            .where(ZonalPrice.hour_utc >= start, ZonalPrice.hour_utc < end)
        )
        market = await session.scalar(
            select(func.count())
            .select_from(MarketPrice)
            .where(MarketPrice.start_utc >= start, MarketPrice.start_utc < end)
        )
    return int(zonal or 0) + int(market or 0)


async def get_prices(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    response = await client.get(f"/api/economic/prices/?{query}", headers=auth(new_id()))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_file_with_one_bad_row_is_refused_whole_and_writes_nothing(
    client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession]
) -> None:
    first = date(2031, 1, 5)
    good = days(first, 3)
    bad_xml = to_market_xml(good[1]).replace(b"<Ora>7</Ora>", b"<Ora>27</Ora>", 1)
    bad_xml = bad_xml.replace(b"<NORD>", b"<NORD>abc", 1)
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("20310105MGPPrezzi.xml", to_market_xml(good[0]))
        archive.writestr("20310106MGPPrezzi.xml", bad_xml)
        archive.writestr("20310107MGPPrezzi.xml", to_market_xml(good[2]))
    async with maker() as session:
        imports_before = await session.scalar(select(func.count()).select_from(PriceImport))

    response = await upload(client, "gennaio.zip", buffer.getvalue())
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    messages = [e["message"] for e in errors]
    assert all(e["code"] == "invalid_price_file" and e["field"] == "file" for e in errors)
    assert any("20310106MGPPrezzi.xml: row 7: Ora '27'" in m for m in messages), messages
    assert any("20310106MGPPrezzi.xml: row 1 (Ora 1): NORD 'abc" in m for m in messages), messages
    assert await stored(maker, first, first + timedelta(days=2)) == 0
    async with maker() as session:
        assert await session.scalar(select(func.count()).select_from(PriceImport)) == imports_before

    (far,) = days(date(2031, 1, 1), 1)
    far_day = to_market_xml(far).replace(b"<Data>20310101</Data>", b"<Data>99991231</Data>")
    refused = await upload(client, "lontano.xml", far_day)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "file"

    not_prices = await upload(client, "x.xml", b"<NewDataSet><Foo/></NewDataSet>")
    assert not_prices.status_code == 422
    assert "no <Prezzi> or <Prezzi15> rows" in not_prices.json()["errors"][0]["message"]


async def test_only_a_platform_admin_imports_and_anyone_signed_in_reads(
    client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession]
) -> None:
    first = date(2031, 2, 1)
    data = to_market_zip(days(first, 1))
    refused = await upload(client, "p.zip", data, headers=auth(new_id()))
    assert refused.status_code == 403
    anonymous = await client.post(URL, files={"file": ("p.zip", data)})
    assert anonymous.status_code == 401
    assert await stored(maker, first, first) == 0
    assert (
        await client.get("/api/economic/prices/?from=2031-02-01&to=2031-02-01")
    ).status_code == 401
    history = await client.get(URL, headers=auth(new_id()))
    assert history.status_code == 403


async def test_reimport_changes_nothing_and_a_correction_supersedes_with_history(
    client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession]
) -> None:
    first = date(2031, 3, 10)
    original = days(first, 3, seed=7)
    data = to_market_zip(original)
    created = await upload(client, "marzo.zip", data)
    assert created.status_code == 201, created.text
    record = created.json()["data"]
    assert (record["days"], record["hourly_added"], record["hourly_superseded"]) == (
        3, 3 * 24 * 7, 0,
    )  # fmt: skip
    assert record["market_prices"] == 3 * 24 * 7

    again = await upload(client, "marzo-again.zip", data)
    assert again.status_code == 200 and again.json()["data"]["unchanged"] is True
    assert again.json()["data"]["id"] == record["id"]
    # The same prices in other bytes (one day, unzipped): recorded, nothing changes.
    same_values = await upload(client, "11.xml", to_market_xml(original[1]))
    assert same_values.status_code == 201
    assert same_values.json()["data"]["hourly_added"] == 0
    assert same_values.json()["data"]["hourly_superseded"] == 0

    # The operator corrects 11 March, 14:00-15:00 local (hour 15) in NORD.
    day = original[1]
    nord = list(day.zones[MarketZone.NORD])
    old_price = nord[14]
    nord[14] = old_price + Decimal("12.34")
    corrected = DayPrices(day.day, 60, {**day.zones, MarketZone.NORD: tuple(nord)}, day.pun)
    fixed = await upload(client, "correzione.xml", to_market_xml(corrected))
    assert fixed.status_code == 201, fixed.text
    assert fixed.json()["data"]["hourly_superseded"] == 1
    assert fixed.json()["data"]["hourly_added"] == 0

    page = await get_prices(client, "zone=NORD&from=2031-03-11&to=2031-03-11")
    hour = next(p for p in page["data"] if p["start"].startswith("2031-03-11T14:00"))
    assert Decimal(hour["eur_mwh"]) == old_price + Decimal("12.34")
    assert hour["import_id"] == fixed.json()["data"]["id"]
    revisions = (
        await client.get(
            "/api/economic/prices/revisions/?zone=NORD&from=2031-03-11&to=2031-03-11",
            headers=auth(new_id()),
        )
    ).json()["data"]
    zonal = [r for r in revisions if r["kind"] == "zonal"]
    assert [(Decimal(r["old_eur_mwh"]), Decimal(r["new_eur_mwh"])) for r in zonal] == [
        (old_price, old_price + Decimal("12.34"))
    ]
    assert zonal[0]["old_import_id"] == record["id"]


async def test_a_quarter_hour_day_gives_the_mean_of_its_quarters_and_keeps_them(
    client: httpx.AsyncClient,
) -> None:
    first = date(2031, 10, 26)  # clocks go back: 25 hours, 100 quarter hours
    (quarters,) = days(first, 1, minutes=15, seed=3)
    (hourly,) = days(first, 1, minutes=60, seed=3)
    created = await upload(client, "20311026MGPPrezzi15.xml", to_market_xml(quarters))
    assert created.status_code == 201, created.text
    assert created.json()["data"]["hourly_added"] == 25 * 7

    page = await get_prices(client, "zone=SICI&from=2031-10-26&to=2031-10-26&per_page=100")
    assert page["meta"]["total"] == 25 and len(page["data"]) == 25
    values = quarters.zones[MarketZone.SICI]
    expected = [hourly_price_of_quarters(values[k : k + 4]) for k in range(0, 100, 4)]
    assert [Decimal(p["eur_mwh"]) for p in page["data"]] == expected
    assert {p["source"] for p in page["data"]} == {"quarter-hour mean"}
    fifteen = await get_prices(
        client, "zone=SICI&from=2031-10-26&to=2031-10-26&resolution=15min&per_page=200"
    )
    assert [Decimal(p["eur_mwh"]) for p in fifteen["data"]] == list(values)

    # The day's published hourly file, loaded later, does not replace the derived price.
    later = await upload(client, "20311026MGPPrezzi.xml", to_market_xml(hourly))
    assert later.status_code == 201
    assert later.json()["data"]["hourly_superseded"] == 0
    page = await get_prices(client, "zone=SICI&from=2031-10-26&to=2031-10-26&per_page=100")
    assert [Decimal(p["eur_mwh"]) for p in page["data"]] == expected


async def test_prices_are_paged_and_bad_ranges_are_named(client: httpx.AsyncClient) -> None:
    first = date(2031, 4, 1)
    assert (
        await upload(client, "aprile.zip", to_market_zip(days(first, 2, seed=9)))
    ).status_code == 201
    whole = await get_prices(client, "from=2031-04-01&to=2031-04-02&per_page=5000")
    assert whole["meta"]["total"] == 2 * 24 * 7 == len(whole["data"])
    second = await get_prices(client, "from=2031-04-01&to=2031-04-02&page=2&per_page=50")
    assert second["data"] == whole["data"][50:100]
    assert second["meta"] == {"page": 2, "per_page": 50, "total": 2 * 24 * 7}
    for query, field in (
        ("from=2031-04-02&to=2031-04-01", "to"),
        ("from=2031-04-01&to=2033-04-01", "to"),
        ("from=2031-04-01&to=2031-04-02&zone=XYZ", "zone"),
        ("to=2031-04-02", "from"),
        ("from=0001-01-01&to=0001-01-02", "from"),
        ("from=9999-12-30&to=9999-12-31", "from"),
    ):
        response = await client.get(f"/api/economic/prices/?{query}", headers=auth(new_id()))
        assert response.status_code == 422, query
        assert response.json()["errors"][0]["field"] == field, response.json()


async def test_the_same_file_sent_twice_at_once_is_imported_once(
    client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession]
) -> None:
    import asyncio

    data = to_market_zip(days(date(2031, 5, 1), 2, seed=11))
    answers = await asyncio.gather(*(upload(client, "maggio.zip", data) for _ in range(2)))
    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
    assert len({a.json()["data"]["id"] for a in answers}) == 1
