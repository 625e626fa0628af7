"""Stamps remembered between requests, forgotten when PostgreSQL says so.

Every hot read begins with a stamp (``repository.RegistryStamps``): the
community's registry version and the caller's role in it on a day, one round
trip to PostgreSQL. Most requests ask the same question again and again, and
the answer only changes when the registry does. The watch keeps the answers in
memory and listens on a connection of its own for ``cer_registry``, which
PostgreSQL sends at commit whenever a community's registry version moves
(migration 0004), whoever made the change (any replica, any worker, SQL typed
by hand); on it, it forgets that community's stamps.

What it guarantees:

* A stamp is remembered only if it was read while the watch was listening
  and no notification, lost connection or write of this process came between
  the start of the read and its end: a stamp read before a change is never
  kept after that change was announced.
* While the listening connection is down, nothing is remembered and every
  request asks PostgreSQL, as it would without the watch; the watch
  reconnects every ``retry_s`` and starts again from nothing. The connection
  is pinged every ``ping_s``; one that does not answer is dropped.
* A write answered by this process forgets everything before its answer
  leaves (``api/cached.py``): its caller's next read sees it at once.
* A write committed by another process or by hand is seen here once its
  notification arrives: PostgreSQL sends it at commit, on loopback within a
  millisecond, to a replica across a network within the round trip.

A plant list across communities (no ``cer_id``) begins with a *view* instead:
the caller's role and the registry version of every community they belong to
(``RegistryStamps.view``). Views are remembered the same way, and forgotten
all together on any notification: a change in any community may add the
caller to it.

Bounded: past ``max_stamps`` everything is forgotten and the memory refills
from the requests that follow. ``max_stamps=0`` turns the watch off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import date

import asyncpg
from cerc_shared.db import ReadPool
from cerc_shared.worker import Worker
from prometheus_client import Counter, Gauge

from cer_service.repository import RegistryStamps, Stamp, View

log = logging.getLogger("cer_service.registry_watch")

CHANNEL = "cer_registry"

# On /metrics: where stamps came from, and whether the watch listens (0: every
# hot read asks PostgreSQL, as if the watch were off).
_STAMPS = Counter("cer_registry_stamps_total", "Stamps of hot reads, by source", ["source"])
_FROM_MEMORY, _FROM_DATABASE = _STAMPS.labels("memory"), _STAMPS.labels("database")
_LISTENING = Gauge("cer_registry_watch_listening", "1 while the registry watch listens")


class RegistryWatch(Worker):
    def __init__(
        self,
        dsn: str,
        pool: ReadPool,
        *,
        max_stamps: int = 200_000,
        ping_s: float = 5.0,
        retry_s: float = 1.0,
    ) -> None:
        super().__init__("cer-registry-watch")
        self.pool = pool
        self._dsn = dsn
        self._max_stamps = max_stamps
        self._ping_s = ping_s
        self.restart_delay_s = retry_s
        self._known: dict[int, dict[tuple[int, date], Stamp]] = {}
        self._size = 0
        self._views: dict[tuple[int, date], View] = {}
        # Moves whenever what is remembered may have gone stale: a read that
        # sees it move while in flight does not keep its answer.
        self._epoch = 0
        self._connection: asyncpg.Connection | None = None
        self.hits = 0
        self.misses = 0

    @property
    def listening(self) -> bool:
        return self._connection is not None and not self._connection.is_closed()

    @property
    def remembered(self) -> int:
        return self._size

    @property
    def epoch(self) -> int:
        return self._epoch

    def knows(self, community_id: int) -> bool:
        """Whether some stamp of the community is remembered."""
        return bool(self._known.get(community_id))

    def server_pid(self) -> int | None:
        """The listening connection's backend, for operators and tests."""
        connection = self._connection
        return None if connection is None else int(connection.get_server_pid())

    async def stamp(self, community_id: int, user_id: int, day: date) -> Stamp | None:
        known = self._known.get(community_id)
        if known is not None:
            found = known.get((user_id, day))
            if found is not None:
                self.hits += 1
                _FROM_MEMORY.inc()
                return found
        self.misses += 1
        _FROM_DATABASE.inc()
        epoch, listening = self._epoch, self.listening
        found = await RegistryStamps(self.pool).stamp(community_id, user_id, day)
        if found is not None and listening and epoch == self._epoch:
            self._remember(community_id, (user_id, day), found)
        return found

    async def view(self, user_id: int, day: date) -> View:
        found = self._views.get((user_id, day))
        if found is not None:
            self.hits += 1
            _FROM_MEMORY.inc()
            return found
        self.misses += 1
        _FROM_DATABASE.inc()
        epoch, listening = self._epoch, self.listening
        found = await RegistryStamps(self.pool).view(user_id, day)
        if listening and epoch == self._epoch:
            if len(self._views) >= self._max_stamps:
                self._views.clear()
            self._views[(user_id, day)] = found
        return found

    def forget(self, community_id: int) -> None:
        self._epoch += 1
        self._views.clear()
        dropped = self._known.pop(community_id, None)
        if dropped:
            self._size -= len(dropped)

    def forget_all(self) -> None:
        self._epoch += 1
        self._known.clear()
        self._views.clear()
        self._size = 0

    def _remember(self, community_id: int, key: tuple[int, date], stamp: Stamp) -> None:
        if self._size >= self._max_stamps:
            self._known.clear()
            self._size = 0
        known = self._known.setdefault(community_id, {})
        if key not in known:
            self._size += 1
        known[key] = stamp

    def start(self) -> None:
        if self._max_stamps > 0:
            super().start()

    async def closed(self) -> None:
        await self._drop()

    def _on_change(self, _: object, __: int, ___: str, payload: str) -> None:
        try:
            community_id = int(payload)
        except ValueError:
            log.warning("registry notification with a payload that is no id: %r", payload)
            self.forget_all()
            return
        self.forget(community_id)

    def _on_lost(self, _: object) -> None:
        # At once, not when the loop next wakes: from here on nothing
        # remembered can be trusted.
        self._deafen()

    def _deafen(self) -> asyncpg.Connection | None:
        """Stop listening and forget everything; the connection that listened."""
        connection, self._connection = self._connection, None
        _LISTENING.set(0)
        self.forget_all()
        return connection

    async def _drop(self) -> None:
        connection = self._deafen()
        if connection is not None and not connection.is_closed():
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)

    async def run(self) -> None:
        # A lost connection ends a listen; a failing one raises (see failed()).
        while True:
            try:
                await self._listen()
            finally:
                await self._drop()
            await asyncio.sleep(self.restart_delay_s)

    def failed(self, exc: Exception) -> None:
        if isinstance(exc, OSError | asyncpg.PostgresError | asyncpg.InterfaceError | TimeoutError):
            log.warning("registry watch not listening (every read asks the database): %s", exc)
        else:
            log.error(
                "registry watch failed (every read asks the database)",
                exc_info=(type(exc), exc, exc.__traceback__),
            )

    async def _listen(self) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=5)
        try:
            connection.add_termination_listener(self._on_lost)
            await connection.add_listener(CHANNEL, self._on_change)
        except BaseException:
            connection.terminate()
            raise
        # Listening from here: what is read from now on is announced if it changes.
        self.forget_all()
        self._connection = connection
        _LISTENING.set(1)
        while self._connection is connection:
            await asyncio.sleep(self._ping_s)
            if self._connection is connection:
                await connection.fetchval("SELECT 1", timeout=self._ping_s)
