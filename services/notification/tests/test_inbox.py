"""The in-app inbox: one's own only, read marks, unread count; devices offline
past the threshold and back online."""

from __future__ import annotations

from datetime import timedelta

import httpx
from cerc_shared.clock import italian_now
from cerc_shared.events.iot import DeviceStatusChanged

from .conftest import Fleet, Sink, auth


async def test_a_member_sees_only_their_own_notifications(
    fleet: Fleet, client: httpx.AsyncClient
) -> None:
    alice, _ = await fleet.user()
    bob, _ = await fleet.user()
    community = await fleet.community()
    await fleet.deliver(fleet.membership(alice, community))
    await fleet.deliver(fleet.membership(alice, await fleet.community("CER Due")))

    mine = await client.get("/api/notifications/?per_page=1", headers=auth(alice))
    assert mine.status_code == 200
    assert mine.json()["meta"]["total"] == 2
    assert len(mine.json()["data"]) == 1
    first_id = mine.json()["data"][0]["id"]
    count = await client.get("/api/notifications/unread-count/", headers=auth(alice))
    assert count.json()["data"] == {"unread": 2}

    theirs = await client.get("/api/notifications/", headers=auth(bob))
    assert theirs.json()["data"] == []
    stolen = await client.post(f"/api/notifications/{first_id}/read/", headers=auth(bob))
    assert stolen.status_code == 404
    assert stolen.json()["errors"][0]["code"] == "not_found"
    assert (await client.get("/api/notifications/unread-count/", headers=auth(alice))).json()[
        "data"
    ] == {"unread": 2}

    read = await client.post(f"/api/notifications/{first_id}/read/", headers=auth(alice))
    assert read.status_code == 200
    assert read.json()["data"]["read_at"] is not None
    count = await client.get("/api/notifications/unread-count/", headers=auth(alice))
    assert count.json()["data"] == {"unread": 1}
    unread = await client.get("/api/notifications/?unread=true", headers=auth(alice))
    assert [n["id"] for n in unread.json()["data"]] != [first_id]
    assert (await client.get("/api/notifications/")).status_code == 401


async def test_a_device_offline_past_the_threshold_tells_owner_and_admins_then_back_online(
    fleet: Fleet, sink: Sink, client: httpx.AsyncClient
) -> None:
    owner, owner_mail = await fleet.user()
    admin, admin_mail = await fleet.user(language="en", first_name="Ann")
    stranger, _ = await fleet.user()
    community = await fleet.community()
    await fleet.deliver(fleet.membership(admin, community, role="ADMIN"))
    await fleet.deliver(fleet.membership(stranger, await fleet.community()))
    plant = await fleet.plant(owner, community)
    device = f"shelly-{plant}"
    threshold = timedelta(seconds=fleet.delivery.settings.device_offline_threshold_s)
    now = italian_now()

    # Offline a moment ago: not told yet (it may come back).
    await fleet.deliver(
        DeviceStatusChanged(
            device_id=device, plant_id=plant, status="OFFLINE", previous="ONLINE", last_seen=now
        )
    )
    await fleet.delivery.deliver_due()
    assert await sink.messages(owner_mail) == []
    inbox = await client.get("/api/notifications/", headers=auth(owner))
    assert [n["kind"] for n in inbox.json()["data"]] == ["membership.started"] or inbox.json()[
        "data"
    ] == []
    # Back within the threshold: nobody is told anything.
    await fleet.deliver(
        DeviceStatusChanged(device_id=device, plant_id=plant, status="ONLINE", previous="OFFLINE")
    )
    await fleet.delivery.deliver_due(now=now + 2 * threshold)
    assert await sink.messages(owner_mail) == []

    # Offline for longer than the threshold: owner and admin are told.
    await fleet.deliver(
        DeviceStatusChanged(
            device_id=device,
            plant_id=plant,
            status="OFFLINE",
            previous="ONLINE",
            last_seen=now - threshold - timedelta(minutes=1),
        )
    )
    await fleet.delivery.deliver_due()
    [to_owner] = await sink.messages(owner_mail)
    assert to_owner["subject"].startswith(f"Il contatore {device} non trasmette da")
    # The administrator (welcomed first) reads English.
    to_admin = [m["subject"] for m in await sink.messages(admin_mail)]
    assert to_admin[0] == "Welcome to the community CER Sole di Bergamo"
    assert to_admin[1].startswith(f"Meter {device} silent since")
    assert len(to_admin) == 2
    inbox = await client.get("/api/notifications/", headers=auth(stranger))
    assert all(n["kind"] != "device.offline" for n in inbox.json()["data"])

    await fleet.deliver(
        DeviceStatusChanged(device_id=device, plant_id=plant, status="ONLINE", previous="OFFLINE")
    )
    await fleet.delivery.deliver_due()
    owner_mails = await sink.messages(owner_mail)
    assert [m["subject"] for m in owner_mails][1] == f"Il contatore {device} è di nuovo in linea"
    assert [m["subject"] for m in await sink.messages(admin_mail)][2] == (
        f"Meter {device} is back online"
    )


async def test_a_notification_id_beyond_bigint_is_a_422_not_a_500(
    client: httpx.AsyncClient,
) -> None:
    # The driver cannot bind it to a BIGINT: without the bound at the door, a 500.
    beyond = await client.post(f"/api/notifications/{2**63}/read/", headers=auth(7))
    assert beyond.status_code == 422, beyond.text
    assert [e["field"] for e in beyond.json()["errors"]] == ["notification_id"]
