"""The reading scopes kept a moment (scope_cache.py): pure, no server."""

from __future__ import annotations

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
