"""The reading scopes kept a moment (scope_cache.py): pure, no server."""

from __future__ import annotations

import asyncio

from energy_service.scope_cache import ScopeCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_scope_is_kept_for_its_time_only() -> None:
    clock = Clock()
    cache = ScopeCache[str](2.0, clock=clock)
    cache.put(("anna", 3), cache.generation, "plants of anna")
    assert cache.get(("anna", 3)) == "plants of anna"
    assert cache.get(("bruno", 3)) is None
    clock.now += 1.9
    assert cache.get(("anna", 3)) == "plants of anna"
    clock.now += 0.1
    assert cache.get(("anna", 3)) is None


def test_a_registry_change_forgets_and_a_scope_read_before_it_is_not_kept() -> None:
    cache = ScopeCache[str](60.0, clock=Clock())
    cache.put("anna", cache.generation, "before")
    read_from = cache.generation  # a request starts reading the registry...
    cache.forget()  # ...an event is applied meanwhile
    assert cache.get("anna") is None
    cache.put("anna", read_from, "maybe stale")
    assert cache.get("anna") is None
    cache.put("anna", cache.generation, "after")
    assert cache.get("anna") == "after"


def test_zero_keeps_nothing_and_the_size_is_bounded() -> None:
    off = ScopeCache[str](0.0, clock=Clock())
    off.put("anna", off.generation, "x")
    assert off.get("anna") is None
    small = ScopeCache[int](60.0, max_entries=2, clock=Clock())
    for user in range(3):
        small.put(user, small.generation, user)
    assert [small.get(user) for user in range(3)] == [None, None, 2]


async def test_one_request_computes_an_expired_entry_and_the_others_wait_for_it() -> None:
    cache = ScopeCache[str](60.0, clock=Clock())
    computed: list[str] = []
    gate = asyncio.Event()

    async def compute() -> str:
        computed.append("anna")
        await gate.wait()
        return "plants of anna"

    waiting = [asyncio.create_task(cache.through("anna", compute)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == ["plants of anna"] * 5
    assert computed == ["anna"]
    assert cache.get("anna") == "plants of anna"


async def test_a_refusal_is_shared_and_nothing_kept() -> None:
    cache = ScopeCache[str](60.0, clock=Clock())
    calls: list[int] = []
    gate = asyncio.Event()

    async def refuse() -> str:
        calls.append(1)
        await gate.wait()
        raise LookupError("no such plant")

    waiting = [asyncio.create_task(cache.through("anna", refuse)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(o, LookupError) for o in outcomes)
    assert calls == [1]
    assert cache.get("anna") is None


async def test_a_registry_change_while_computing_makes_the_waiters_read_again() -> None:
    cache = ScopeCache[str](60.0, clock=Clock())
    answers = iter(["before the event", "after the event"])
    gates = [asyncio.Event(), asyncio.Event()]
    calls: list[int] = []

    async def compute() -> str:
        calls.append(1)
        await gates[len(calls) - 1].wait()
        return next(answers)

    first = asyncio.create_task(cache.through("anna", compute))
    await asyncio.sleep(0)
    second = asyncio.create_task(cache.through("anna", compute))
    await asyncio.sleep(0)
    cache.forget()  # an event applied while the first request reads the registry
    gates[0].set()
    assert await first == "before the event"  # its own read, as without the cache
    gates[1].set()
    assert await second == "after the event"  # not the read from before the event
    assert cache.get("anna") == "after the event"


async def test_a_cancelled_request_leaves_the_waiters_to_compute() -> None:
    cache = ScopeCache[str](60.0, clock=Clock())
    calls: list[int] = []

    async def compute() -> str:
        calls.append(1)
        if len(calls) == 1:
            await asyncio.Event().wait()  # never answers: its client goes away
        return "plants of anna"

    gone = asyncio.create_task(cache.through("anna", compute))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(cache.through("anna", compute))
    await asyncio.sleep(0)
    gone.cancel()
    assert await waiter == "plants of anna"
    assert calls == [1, 1]
