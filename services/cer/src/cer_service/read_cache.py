"""Answers of the hot reads (community summary, plant lists), kept as JSON bytes.

Every entry is keyed by the community's ``registry_version``, which the
database moves in the writing transaction (migration 0003). A read first gets
the current version and the caller's role (its stamp: ``RegistryStamps``, one
round trip, or the registry watch's memory of it, forgotten as soon as
PostgreSQL announces a change: registry_watch.py), so access is checked on
every request and an entry is only ever served for the version it was computed
at or after.

An answer is stored under the version read *before* it was computed, so it is
never older than its key. Only read endpoints store (a request that also writes
could store what its commit then fails to keep). The cache is per process,
bounded in bytes, least recently used out first.
"""

from __future__ import annotations

from collections.abc import Hashable

from cachetools import LRUCache
from prometheus_client import Counter

# On /metrics: how often a hot read's answer was already kept.
_LOOKUPS = Counter("cer_read_cache_lookups_total", "Read cache lookups, by result", ["result"])
_HIT, _MISS = _LOOKUPS.labels("hit"), _LOOKUPS.labels("miss")


class ReadCache:
    def __init__(self, max_bytes: int) -> None:
        self._entries: LRUCache[Hashable, bytes] | None = (
            LRUCache(maxsize=max_bytes, getsizeof=len) if max_bytes > 0 else None
        )
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        if self._entries is None:
            return None
        body = self._entries.get(key)
        if body is None:
            self.misses += 1
            _MISS.inc()
        else:
            self.hits += 1
            _HIT.inc()
        return body

    def put(self, key: Hashable, body: bytes) -> None:
        if self._entries is not None and len(body) <= self._entries.maxsize:
            self._entries[key] = body
