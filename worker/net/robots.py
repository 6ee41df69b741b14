"""robots.txt: fetched once per origin, kept in the state for a day (so a one-off run a minute
later does not fetch it again), obeyed for every request. A missing one (4xx) allows all; a
failing one (5xx, network) pauses the host, and the error names the real cause."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import urlsplit

from protego import Protego

from worker.errors import FetchError, PermanentFetchError, TransientFetchError

log = logging.getLogger(__name__)

ROBOTS_TTL = 24 * 3600.0
ROBOTS_MAX_BYTES = 512_000
AGENT = "news-worker"


class RobotsStore(Protocol):
    """Keeps robots.txt across runs, so a one-off run does not refetch it every time."""

    async def robots_get(self, origin: str) -> tuple[str | None, float] | None: ...

    async def robots_put(self, origin: str, text: str | None, fetched_at: float) -> None: ...


class Robots:
    """The robots.txt rules of every origin asked about; ``fetch(url, proxy)`` reads one body."""

    def __init__(
        self,
        fetch: Callable[[str, str | None], Awaitable[bytes]],
        *,
        failure_pause: float,
        store: RobotsStore | None = None,
    ) -> None:
        self._fetch = fetch
        self._failure_pause = failure_pause
        self._store = store
        self._robots: dict[str, tuple[float, Protego | None, str | None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def check(self, url: str, proxy: str | None = None) -> None:
        """Raise if ``url`` may not be fetched now (disallowed, or its robots.txt failing)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc.lower()}"
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:
            entry = self._robots.get(origin)
            if entry is None or entry[0] < time.monotonic():
                entry = await self._load(origin, proxy)
                self._robots[origin] = entry
        _, parser, failure = entry
        if failure is not None:
            raise TransientFetchError(
                f"{origin}/robots.txt failed ({failure}): not fetching from this host until it "
                "answers",
                reason="robots_unavailable",
                retry_after=self._failure_pause,
            )
        if parser is not None and not parser.can_fetch(url, AGENT):
            raise PermanentFetchError(
                f"{url}: disallowed by robots.txt", reason="robots_disallowed"
            )

    async def _load(
        self, origin: str, proxy: str | None
    ) -> tuple[float, Protego | None, str | None]:
        """Expiry, parser (None: allow all) and why robots.txt was unavailable (None: it was)."""
        now = time.monotonic()
        stored = await self._store.robots_get(origin) if self._store else None
        if stored is not None and 0 <= time.time() - stored[1] < ROBOTS_TTL:
            text: str | None = stored[0]
            expiry = now + ROBOTS_TTL - (time.time() - stored[1])
        else:
            try:
                body = await self._fetch(f"{origin}/robots.txt", proxy)
                text = body[:ROBOTS_MAX_BYTES].decode("utf-8", "replace")
            except PermanentFetchError as exc:
                # 4xx (and other permanent answers): no robots.txt means no restrictions.
                log.info("robots_absent", extra={"origin": origin, "reason": exc.reason})
                text = None
            except FetchError as exc:
                log.warning("robots_unavailable", extra={"origin": origin, "reason": exc.reason})
                return (now + self._failure_pause, None, str(exc))
            if self._store is not None:
                await self._store.robots_put(origin, text, time.time())
            expiry = now + ROBOTS_TTL
        if text is None:
            return (expiry, None, None)
        try:
            return (expiry, Protego.parse(text), None)
        except Exception:  # protego raises assorted errors on garbage; treat as absent
            return (expiry, None, None)
