"""Cached reads: a community's summary and its plant pages as response bodies,
kept while the community's registry has not moved (see read_cache.py and
registry_watch.py; api/cached.py serves them before routing)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from cerc_shared.auth import Principal
from cerc_shared.db import ReadPool
from cerc_shared.envelope import Envelope, NotFound, PageMeta, ok
from sqlalchemy.ext.asyncio import AsyncSession

from cer_service.read_cache import ReadCache
from cer_service.registry_watch import RegistryWatch
from cer_service.repository import CommunityRepository, RegistryStamps, Stamp, View
from cer_service.service.access import Access, CerContext, today
from cer_service.service.communities import summary
from cer_service.service.plants import PlantQuery, list_plants


@dataclass(frozen=True)
class Reads:
    """What a cached read needs: the answers kept, and where its stamp comes from."""

    cache: ReadCache
    pool: ReadPool
    watch: RegistryWatch | None = None

    @classmethod
    def of(cls, state: Any) -> Reads:
        """From the app's state (the pool is there so tests can hand out their
        own; the watch vouches only for the pool it was built with)."""
        context: CerContext = state.cer_context
        pool: ReadPool = state.read_pool
        watch = context.watch if context.watch is not None and context.watch.pool is pool else None
        return cls(context.reads, pool, watch)

    async def stamp(self, community_id: int, user_id: int, day: date) -> Stamp | None:
        if self.watch is not None:
            return await self.watch.stamp(community_id, user_id, day)
        return await RegistryStamps(self.pool).stamp(community_id, user_id, day)

    async def view(self, user_id: int, day: date) -> View:
        if self.watch is not None:
            return await self.watch.view(user_id, day)
        return await RegistryStamps(self.pool).view(user_id, day)

    async def through(self, key: Hashable, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        """The answer kept under ``key``, or ``compute``'s, then kept."""
        body = self.cache.get(key)
        if body is None:
            body = await compute()
            self.cache.put(key, body)
        return body


QueryItems = tuple[tuple[str, str], ...]


def query_items(pairs: Iterable[tuple[str, str]]) -> QueryItems:
    """A query string as a cache key: its pairs, order aside."""
    return tuple(sorted(pairs))


def _json(envelope: Envelope[Any]) -> bytes:
    return envelope.model_dump_json().encode()


async def readable_stamp(reads: Reads, principal: Principal, community_id: int) -> Stamp:
    """The registry version, and 404 for anyone with no standing (as ``access_to``)."""
    stamp = await reads.stamp(community_id, principal.user_id, today())
    if stamp is None or (stamp.role is None and not principal.is_platform_admin):
        raise NotFound("community")
    return stamp


def summary_key(community_id: int, stamp: Stamp) -> Hashable:
    return ("summary", community_id, stamp.registry_version, stamp.day, stamp.role)


def plants_key(
    community_id: int, stamp: Stamp, principal: Principal, query: QueryItems
) -> Hashable:
    """A page as asked (the raw query string): only a page the endpoint validated
    and answered is ever stored under it. A MEMBER sees their own plants only."""
    reads_all = principal.is_platform_admin or stamp.role in ("ADMIN", "VIEWER")
    scope = "all" if reads_all else principal.user_id
    return ("plants", community_id, stamp.registry_version, scope, query)


async def readable_view(reads: Reads, principal: Principal) -> View:
    """What a plant list without ``cer_id`` shows a caller who is no platform
    admin (``list_plants``): their communities' versions and their roles."""
    return await reads.view(principal.user_id, today())


def plants_view_key(view: View, principal: Principal, query: QueryItems) -> Hashable:
    """As ``plants_key``, across the caller's communities: the page depends
    only on the view unless the caller is a MEMBER somewhere (own plants)."""
    reads_all = all(role in ("ADMIN", "VIEWER") for _, _, role in view.roles)
    scope = "all" if reads_all else principal.user_id
    return ("plants", view.roles, scope, query)


async def community_summary_json(
    session: AsyncSession, principal: Principal, community_id: int, reads: Reads
) -> bytes:
    """The summary's response body, from the cache when the registry has not moved."""
    stamp = await readable_stamp(reads, principal, community_id)

    async def compute() -> bytes:
        community = await CommunityRepository(session).get(community_id)
        if community is None:  # gone since the stamp
            raise NotFound("community")
        acc = Access(community, principal.user_id, stamp.role, principal.is_platform_admin)
        return _json(ok(await summary(session, acc)))

    return await reads.through(summary_key(community_id, stamp), compute)


async def plants_page_json(
    session: AsyncSession,
    principal: Principal,
    reads: Reads,
    *,
    cer_id: int | None,
    query: PlantQuery,
    asked: QueryItems,
) -> bytes:
    """A page of plants as a response body; one community's pages come from the
    cache while its registry has not moved, and so do a caller's pages across
    their communities while none of those registries has moved."""

    async def compute(role: str | None = None, roles: Mapping[int, str] | None = None) -> bytes:
        plants, total = await list_plants(
            session, principal, cer_id=cer_id, query=query, role=role, roles=roles
        )
        return _json(ok(plants, PageMeta(page=query.page, per_page=query.per_page, total=total)))

    if cer_id is None:
        if principal.is_platform_admin:
            return await compute()
        view = await readable_view(reads, principal)
        return await reads.through(
            plants_view_key(view, principal, asked),
            lambda: compute(roles=view.role_by_community()),
        )
    stamp = await readable_stamp(reads, principal, cer_id)
    return await reads.through(
        plants_key(cer_id, stamp, principal, asked), lambda: compute(stamp.role)
    )
