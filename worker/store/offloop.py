"""The state store for async code: every call runs in a thread of its own, one at a time.

A state call can wait: SQLite waits up to its busy timeout while another process holds the write
lock, PostgreSQL waits for the network. On the event loop that would freeze downloads and the
operations endpoint; here only the stages that need the state wait, and ``/healthz`` answers.
Calls keep their order (one thread), which is what the SQLite connection needs too.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from worker.store.interfaces import (
    Archived,
    ArticleRow,
    Discovered,
    FeedRow,
    FeedState,
    Lease,
    QueueItem,
    StateStore,
)

P = ParamSpec("P")
T = TypeVar("T")


class AsyncState:
    """A :class:`StateStore` whose calls are awaited (see the module docstring)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="state")
        self._bookings: list[tuple[str, float, asyncio.Future[float]]] = []
        self._booking: asyncio.Task[None] | None = None

    async def _run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._thread, functools.partial(function, *args, **kwargs)
        )

    async def close(self) -> None:
        if self._booking is not None:
            await asyncio.gather(self._booking, return_exceptions=True)
        await self._run(self.store.close)
        self._thread.shutdown(wait=True)

    async def writable(self) -> str | None:
        return await self._run(self.store.writable)

    async def feed(self, url: str) -> FeedState:
        return await self._run(self.store.feed, url)

    async def feed_polled(self, url: str, source: str, **values: Any) -> None:
        await self._run(self.store.feed_polled, url, source, **values)

    async def feeds_of(self, source: str) -> list[FeedRow]:
        return await self._run(self.store.feeds_of, source)

    async def register_feeds(self, feeds: Iterable[tuple[str, str]]) -> None:
        await self._run(self.store.register_feeds, list(feeds))

    async def claim_feeds(
        self, sources: Collection[str], now: float, owner: str, ttl: float, limit: int
    ) -> list[str]:
        return await self._run(self.store.claim_feeds, list(sources), now, owner, ttl, limit)

    async def robots_get(self, origin: str) -> tuple[str | None, float] | None:
        return await self._run(self.store.robots_get, origin)

    async def robots_put(self, origin: str, text: str | None, fetched_at: float) -> None:
        await self._run(self.store.robots_put, origin, text, fetched_at)

    async def reserve_host(self, host: str, gap: float) -> float:
        """Book a start on ``host`` (the fetcher's :class:`~worker.net.hooks.HostBook`). Every
        request books one; those asked for while a batch is being booked go together in the
        next batch, one transaction and one trip to the state thread for all."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._bookings.append((host, gap, future))
        if self._booking is None or self._booking.done():
            self._booking = asyncio.get_running_loop().create_task(self._book())
        return await future

    async def _book(self) -> None:
        while self._bookings:
            batch, self._bookings = self._bookings, []
            try:
                waits = await self._run(self.store.reserve_hosts, [(h, g) for h, g, _ in batch])
            except Exception as exc:
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            except BaseException:  # cancelled (the loop is closing): so is every booking
                for *_, future in [*batch, *self._bookings]:
                    future.cancel()
                self._bookings = []
                raise
            for (*_, future), wait in zip(batch, waits, strict=True):
                if not future.done():
                    future.set_result(wait)

    async def backfill_done(self, source: str, url: str, range_key: str) -> bool:
        return await self._run(self.store.backfill_done, source, url, range_key)

    async def backfill_visited(self, source: str, range_key: str) -> set[str]:
        return await self._run(self.store.backfill_visited, source, range_key)

    async def backfill_mark(self, source: str, url: str, range_key: str, now: float) -> None:
        await self._run(self.store.backfill_mark, source, url, range_key, now)

    async def discover(
        self, source: str, items: Iterable[Discovered], now: float
    ) -> tuple[int, int]:
        return await self._run(self.store.discover, source, list(items), now)

    async def claim_due(
        self, source: str, now: float, owner: str, ttl: float, **options: Any
    ) -> list[QueueItem]:
        return await self._run(self.store.claim_due, source, now, owner, ttl, **options)

    async def renew(self, leases: Iterable[Lease], now: float, ttl: float) -> list[Lease]:
        return await self._run(self.store.renew, list(leases), now, ttl)

    async def release(self, lease: Lease) -> bool:
        return await self._run(self.store.release, lease)

    async def reclaim_leases(self, is_dead: Callable[[str], bool]) -> int:
        return await self._run(self.store.reclaim_leases, is_dead)

    async def archived_many(self, rows: Iterable[Archived], now: float) -> list[Archived]:
        return await self._run(self.store.archived_many, list(rows), now)

    async def failed(self, lease: Lease, *, error: str, next_try_at: float, give_up: bool) -> bool:
        return await self._run(
            self.store.failed, lease, error=error, next_try_at=next_try_at, give_up=give_up
        )

    async def article(self, source: str, article_id: str) -> ArticleRow | None:
        return await self._run(self.store.article, source, article_id)

    async def counts(self, source: str) -> dict[str, int]:
        return await self._run(self.store.counts, source)

    async def queue_reasons(self, source: str) -> dict[str, int]:
        return await self._run(self.store.queue_reasons, source)

    async def due_urls(self, source: str, now: float, limit: int) -> list[str]:
        return await self._run(self.store.due_urls, source, now, limit)
