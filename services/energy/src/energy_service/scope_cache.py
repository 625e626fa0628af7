"""Reading scopes kept a moment per caller, plant and day.

A dashboard asks for the same plant again and again, and deciding which of its
readings the caller may see costs two or three registry queries, a third of a
dashboard read's CPU (bench/bench_gateway.py). The scope only changes when the
registry read model does, so it is kept for ``ttl_s`` seconds and forgotten, in
this process, as soon as a registry event is applied here. Another worker or
replica of the service applies its own events: there a change is seen within
``ttl_s`` at most, of the order of the read model's own lag behind the CER
service. The token is still checked on every request; only the caller's own
scope is kept, under the caller's identity and the Italian day.

A scope computed while a registry event came in is not kept (``generation``):
it may predate the event. The handler forgets when it applies an event and again
when its transaction commits, so a scope read in between (the registry before
the commit) is not kept either (events.read_model_handler).

Bounded: past ``max_entries`` everything is forgotten.

When an entry expires under load, every request for it at that moment would
compute it again (dozens at once at 50 clients: a burst of registry queries
every ``ttl_s`` that showed in the dashboards' p95). ``through`` lets one
request compute it and the others wait for that answer, unless the registry
moved meanwhile.

Other caches decided from the registry (a community's perimeter, hourly.reads)
are ``link``-ed to this one: forgotten with it, by the same handler.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ScopeCache(Generic[T]):
    def __init__(
        self,
        ttl_s: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, T]] = {}
        self._linked: list[ScopeCache[Any]] = []
        # Entries being computed: (generation it started in, its outcome once known).
        self._pending: dict[Hashable, tuple[int, asyncio.Future[tuple[bool, Any]]]] = {}
        self.generation = 0

    def link(self, other: ScopeCache[Any]) -> None:
        """Forget ``other`` whenever this cache forgets."""
        self._linked.append(other)

    def get(self, key: Hashable) -> T | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if self._clock() >= expires:
            del self._entries[key]
            return None
        return value

    def put(self, key: Hashable, generation: int, value: T) -> None:
        if self._ttl_s <= 0 or generation != self.generation:
            return
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = (self._clock() + self._ttl_s, value)

    async def through(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """The entry kept under ``key``, or the one being computed for it by another
        request (its answer or its refusal), or ``compute``'s, then kept."""
        kept = self.get(key)
        if kept is not None:
            return kept
        pending = self._pending.get(key)
        if pending is not None and pending[0] == self.generation:
            done, outcome = await asyncio.shield(pending[1])
            # Computed before a registry event that came meanwhile, or abandoned: again here.
            if pending[0] == self.generation and done:
                if isinstance(outcome, Exception):
                    raise outcome
                value: T = outcome
                return value
            return await self.through(key, compute)
        generation = self.generation
        future: asyncio.Future[tuple[bool, Any]] = asyncio.get_running_loop().create_future()
        self._pending[key] = (generation, future)
        try:
            value = await compute()
        except Exception as exc:
            future.set_result((True, exc))
            raise
        except BaseException:
            future.set_result((False, None))  # cancelled: the waiters compute it themselves
            raise
        else:
            future.set_result((True, value))
            self.put(key, generation, value)
            return value
        finally:
            if self._pending.get(key, (None, None))[1] is future:
                del self._pending[key]

    def forget(self) -> None:
        self._entries.clear()
        self.generation += 1
        for other in self._linked:
            other.forget()
