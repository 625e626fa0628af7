"""The bridge's MQTT 3.1.1 connection: a subscriber that acknowledges by hand.

Why not aiomqtt/paho here (the API process still uses aiomqtt for commands):
the bridge receives thousands of QoS 1 messages a second, and paho's read
path plus aiomqtt's message objects cost ~150 us of Python per message,
more than the rest of the bridge together; paho also acknowledges on its own
unless switched into a manual mode aiomqtt does not expose. This module
speaks only what the bridge needs (CONNECT, SUBSCRIBE, PUBLISH in, PUBACK
out, PINGREQ, DISCONNECT), decodes whole buffers of packets at once, and
sends PUBACKs only when told, in the order given.

Flow control: the broker limits unacknowledged QoS 1 messages in flight to
one client (Mosquitto's ``max_inflight_messages``); QoS 0 messages have no
such limit, so reading pauses while more than ``high_water`` messages wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from typing import cast

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14

_CONNACK_REFUSALS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class MqttError(Exception):
    """The connection was refused, broke, or the broker broke the protocol."""


@dataclass(frozen=True, slots=True)
class Received:
    topic: str
    payload: bytes
    # 0 for QoS 0 (nothing to acknowledge).
    packet_id: int


# ------------------------------------------------------------------ encoding


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return len(raw).to_bytes(2, "big") + raw


def packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + _length(len(body)) + body


def connect_packet(
    client_id: str, username: str | None, password: str | None, *, clean: bool, keepalive: int
) -> bytes:
    flags = (0x02 if clean else 0) | (0x80 if username else 0) | (0x40 if password else 0)
    body = _string("MQTT") + bytes([4, flags]) + keepalive.to_bytes(2, "big") + _string(client_id)
    if username:
        body += _string(username)
    if password:
        body += _string(password)
    return packet(CONNECT, 0, body)


def subscribe_packet(packet_id: int, filters: list[str], qos: int) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"".join(_string(f) + bytes([qos]) for f in filters)
    return packet(SUBSCRIBE, 0b0010, body)


def publish_packet(topic: str, payload: bytes, packet_id: int = 0, qos: int = 1) -> bytes:
    """A PUBLISH; the bridge never publishes, its load generators and tests do."""
    pid = packet_id.to_bytes(2, "big") if qos else b""
    return packet(PUBLISH, qos << 1, _string(topic) + pid + payload)


def puback_packets(packet_ids: list[int]) -> bytes:
    return b"".join(b"\x40\x02" + p.to_bytes(2, "big") for p in packet_ids if p)


# ------------------------------------------------------------------ decoding


def split_packets(buffer: bytearray) -> tuple[list[tuple[int, int, bytes]], int]:
    """Complete packets at the start of ``buffer`` as (type, flags, body), and
    how many bytes they used; a partial packet at the end is left for later."""
    out: list[tuple[int, int, bytes]] = []
    pos, size = 0, len(buffer)
    while size - pos >= 2:
        header = buffer[pos]
        length, multiplier, i = 0, 1, pos + 1
        while True:
            if i >= size:
                return out, pos
            digit = buffer[i]
            length += (digit & 0x7F) * multiplier
            i += 1
            if not digit & 0x80:
                break
            multiplier *= 128
            if multiplier > 128**3:
                raise MqttError("malformed remaining length")
        end = i + length
        if end > size:
            break
        out.append((header >> 4, header & 0x0F, bytes(buffer[i:end])))
        pos = end
    return out, pos


def decode_publish(flags: int, body: bytes) -> Received:
    qos = (flags >> 1) & 0x03
    if qos > 1:
        raise MqttError("QoS 2 delivery on a QoS 1 subscription")
    end = 2 + int.from_bytes(body[:2], "big")
    if end > len(body):
        raise MqttError("PUBLISH topic longer than the packet")
    try:
        topic = body[2:end].decode()
    except UnicodeDecodeError as exc:
        raise MqttError("PUBLISH topic is not UTF-8") from exc
    if qos:
        return Received(topic, body[end + 2 :], int.from_bytes(body[end : end + 2], "big"))
    return Received(topic, body[end:], 0)


# ---------------------------------------------------------------- the client


class _Protocol(asyncio.Protocol):
    def __init__(self, high_water: int) -> None:
        self.transport: asyncio.Transport | None = None
        self.messages: deque[Received] = deque()
        self.high_water = high_water
        self.paused = False
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.replies: dict[int, asyncio.Future[bytes]] = {}
        self.last_sent = time.monotonic()
        self.last_heard = time.monotonic()
        self._buffer = bytearray()
        # Set once ``wanted`` messages wait (or the connection ended): a
        # receiver lingering for a batch is woken once, not per TCP read.
        self.wanted = 1
        self._arrived = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's does not subclass asyncio.Transport).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self.last_heard = time.monotonic()
        try:
            packets, used = split_packets(self._buffer)
            del self._buffer[:used]
            for kind, flags, body in packets:
                if kind == PUBLISH:
                    self.messages.append(decode_publish(flags, body))
                elif kind in (CONNACK, SUBACK):
                    waiter = self.replies.pop(kind, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(body)
                elif kind != PINGRESP:
                    raise MqttError(f"unexpected packet type {kind}")
        except MqttError as exc:
            self._fail(exc)
            return
        if self.messages:
            if len(self.messages) >= self.wanted:
                self._arrived.set()
            if len(self.messages) > self.high_water and self.transport and not self.paused:
                self.transport.pause_reading()
                self.paused = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(MqttError(f"connection lost: {exc}" if exc else "connection closed"))

    def _fail(self, exc: MqttError) -> None:
        if not self.closed.done():
            self.closed.set_exception(exc)
            # Retrieved here so an unawaited failure is not reported as such.
            self.closed.exception()
        for waiter in self.replies.values():
            if not waiter.done():
                waiter.set_exception(exc)
        self._arrived.set()
        if self.transport is not None:
            self.transport.abort()

    def write(self, data: bytes) -> None:
        if self.closed.done():
            self.closed.result()  # raises why
        assert self.transport is not None
        self.transport.write(data)
        self.last_sent = time.monotonic()

    async def wait_arrival(self, wanted: int) -> None:
        """Until ``wanted`` messages wait; raises if the connection ended."""
        self.wanted = wanted
        try:
            if len(self.messages) < wanted and not self.closed.done():
                self._arrived.clear()
                await self._arrived.wait()
        finally:
            self.wanted = 1
        if self.closed.done():
            self.closed.result()


class MqttSubscriber:
    """One MQTT 3.1.1 session of a subscriber that acknowledges explicitly."""

    def __init__(self, protocol: _Protocol, keepalive: int) -> None:
        self._protocol = protocol
        self._keepalive = keepalive
        self._pinger = asyncio.create_task(self._ping())

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        client_id: str,
        username: str | None,
        password: str | None,
        clean_session: bool,
        keepalive: int = 30,
        connect_timeout_s: float = 10.0,
        high_water: int = 20_000,
    ) -> MqttSubscriber:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout_s):
                _, protocol = await loop.create_connection(
                    lambda: _Protocol(high_water), host, port
                )
                try:
                    reply = protocol.replies[CONNACK] = loop.create_future()
                    protocol.write(
                        connect_packet(
                            client_id, username, password, clean=clean_session, keepalive=keepalive
                        )
                    )
                    body = await reply
                except BaseException:
                    if protocol.transport is not None:
                        protocol.transport.abort()
                    raise
        except TimeoutError:
            # Named, so a log says which step of connecting failed.
            raise MqttError(f"no CONNACK within {connect_timeout_s} s") from None
        if len(body) != 2 or body[1] != 0:
            code = body[1] if len(body) == 2 else -1
            assert protocol.transport is not None
            protocol.transport.abort()
            raise MqttError(f"CONNECT refused: {_CONNACK_REFUSALS.get(code, code)}")
        return cls(protocol, keepalive)

    async def subscribe(self, filters: list[str], qos: int = 1) -> None:
        reply = self._protocol.replies[SUBACK] = asyncio.get_running_loop().create_future()
        self._protocol.write(subscribe_packet(1, filters, qos))
        body = await reply
        if any(code == 0x80 for code in body[2:]):
            raise MqttError(f"SUBSCRIBE refused for one of {filters}")

    @property
    def closed(self) -> asyncio.Future[None]:
        """Done (with the reason as its exception) once the connection has ended."""
        return self._protocol.closed

    async def receive(self, max_messages: int, linger_s: float, idle_s: float) -> list[Received]:
        """What has arrived, waiting up to ``linger_s`` after the first message
        for more, up to ``max_messages``; none if nothing came for ``idle_s``."""
        p = self._protocol
        try:
            await asyncio.wait_for(p.wait_arrival(1), idle_s)
        except TimeoutError:
            return []
        if len(p.messages) < max_messages and linger_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(p.wait_arrival(max_messages), linger_s)
        count = min(max_messages, len(p.messages))
        batch = [p.messages.popleft() for _ in range(count)]
        if p.paused and len(p.messages) <= p.high_water // 2 and p.transport is not None:
            p.transport.resume_reading()
            p.paused = False
        return batch

    def ack(self, messages: list[Received]) -> None:
        """PUBACK the QoS 1 messages among ``messages``, in this order."""
        data = puback_packets([m.packet_id for m in messages])
        if data:
            self._protocol.write(data)

    async def _ping(self) -> None:
        p = self._protocol
        while not p.closed.done():
            await asyncio.sleep(self._keepalive / 4)
            now = time.monotonic()
            if now - p.last_heard > self._keepalive * 1.5:
                p._fail(MqttError("the broker stopped answering"))
                return
            if now - p.last_sent > self._keepalive / 2:
                with contextlib.suppress(MqttError):
                    p.write(packet(PINGREQ, 0, b""))

    async def close(self) -> None:
        self._pinger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pinger
        p = self._protocol
        if p.transport is not None and not p.closed.done():
            with contextlib.suppress(MqttError):
                p.write(packet(DISCONNECT, 0, b""))
            p.transport.close()
