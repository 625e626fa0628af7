"""The bridge's MQTT codec: packets split anywhere by TCP, lengths of any size."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
from iot_service.mqtt.wire import (
    PUBACK,
    PUBLISH,
    MqttError,
    _Protocol,
    decode_publish,
    puback_packets,
    publish_packet,
    split_packets,
)


def test_packets_split_at_every_byte_are_decoded_once_whole() -> None:
    # 200 bytes of payload: a two-byte remaining length.
    packets = [
        publish_packet("energy/plant/1/device/d-1/measurements", b"x" * 200, packet_id=7),
        publish_packet("energy/plant/1/device/d-2/status", b"{}", packet_id=0, qos=0),
        publish_packet("t", b"y" * 20_000, packet_id=65535),  # three-byte length
    ]
    stream = b"".join(packets)
    for cut in range(1, len(stream)):
        buffer = bytearray(stream[:cut])
        first, used = split_packets(buffer)
        del buffer[:used]
        buffer += stream[cut:]
        rest, used_rest = split_packets(buffer)
        decoded = [decode_publish(flags, body) for _, flags, body in first + rest]
        assert used_rest == len(buffer)
        assert [(m.topic, len(m.payload), m.packet_id) for m in decoded] == [
            ("energy/plant/1/device/d-1/measurements", 200, 7),
            ("energy/plant/1/device/d-2/status", 2, 0),
            ("t", 20_000, 65535),
        ]
    assert {kind for kind, _, _ in split_packets(bytearray(stream))[0]} == {PUBLISH}


def test_pubacks_are_written_in_the_order_given_and_none_for_qos_0() -> None:
    data = puback_packets([3, 0, 1, 300])
    acks, used = split_packets(bytearray(data))
    assert used == len(data)
    assert [(kind, int.from_bytes(body, "big")) for kind, _, body in acks] == [
        (PUBACK, 3),
        (PUBACK, 1),
        (PUBACK, 300),
    ]


def test_a_remaining_length_over_four_bytes_is_a_protocol_error() -> None:
    with pytest.raises(MqttError):
        split_packets(bytearray(b"\x30\xff\xff\xff\xff\x01"))


def test_qos_2_is_refused_rather_than_acknowledged_wrongly() -> None:
    packet = bytearray(publish_packet("t", b"p", packet_id=1, qos=2))
    [(_, flags, body)], _ = split_packets(packet)
    with pytest.raises(MqttError):
        decode_publish(flags, body)


async def test_a_receiver_waiting_for_a_batch_is_woken_once_it_is_full() -> None:
    """Lingering for a batch, the bridge is woken when the batch is full (or
    the connection ends), not at every TCP read that brings a message."""
    loop = asyncio.get_running_loop()
    ours, broker = socket.socketpair()
    _, protocol = await loop.create_connection(lambda: _Protocol(high_water=100), sock=ours)
    try:
        waiting = asyncio.ensure_future(protocol.wait_arrival(3))
        for packet_id in (1, 2):
            broker.sendall(publish_packet(f"t/{packet_id}", b"x", packet_id))
            await _until(lambda n=packet_id: len(protocol.messages) == n)
            assert not waiting.done()
        broker.sendall(publish_packet("t/3", b"x", 3))
        await asyncio.wait_for(waiting, 5)
        assert [m.packet_id for m in protocol.messages] == [1, 2, 3]
        # Already there: no wait. More than there are: woken by the end.
        await asyncio.wait_for(protocol.wait_arrival(2), 5)
        more = asyncio.ensure_future(protocol.wait_arrival(10))
        await asyncio.sleep(0.05)
        assert not more.done()
        broker.close()
        with pytest.raises(MqttError):
            await asyncio.wait_for(more, 5)
    finally:
        broker.close()
        assert protocol.transport is not None
        protocol.transport.abort()


async def _until(done: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not done():  # noqa: ASYNC110 - the protocol has no event for this
            await asyncio.sleep(0.005)
