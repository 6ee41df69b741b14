"""The frontier: requests wait in per-host queues and go out when their host may take one.

A request is dispatched when its host has a free slot (``per_host`` in flight) and its gap has
passed since the host's last start, and fewer than ``max_active`` requests are on the wire in
all. The global limit counts requests on the wire, not requests waiting for their host, so an
idle host's request never waits behind another host's backlog (Scrapy's downloader slots work
this way). Hosts with waiting requests take turns when the global limit binds.

A caller whose own backlog is full (the articles layer, with 128 fetched pages not yet written)
can ``pause`` dispatching: requests on the wire go on, nothing new starts until it resumes. That
is backpressure at the wire; a limit taken before a request joins its host's queue would be held
through the host's gaps, and a few hosts' backlogs would hold all of it.

A host's gap is counted from the moment its request goes on the wire, not from the grant: the
holder of a slot calls :meth:`Turn.on_wire` just before the request is written (the transport's
``before_send``), so time spent connecting, or waiting on a busy event loop, never shortens the
gap the server sees. The fetcher books that moment in a store shared by every process on the same
state too (``StateStore.reserve_host``), and waits first if another process started on the host
lately: ``on_wire(delay)`` then moves this host's next start here behind it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class _Host:
    __slots__ = ("active", "name", "next_at", "queued", "timer", "waiters")

    def __init__(self, name: str) -> None:
        self.name = name
        self.active = 0
        self.next_at = 0.0
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.timer: asyncio.TimerHandle | None = None
        self.queued = False  # in the frontier's ready queue


class Turn:
    """A granted slot: tells the frontier when its request really starts."""

    __slots__ = ("_gap", "_host")

    def __init__(self, host: _Host, gap: float) -> None:
        self._host = host
        self._gap = gap

    def on_wire(self, delay: float = 0.0) -> None:
        """The request is written now, or after ``delay`` seconds: the host's next start here
        waits a gap from then."""
        start = asyncio.get_running_loop().time() + delay
        self._host.next_at = max(self._host.next_at, start + self._gap)


class Frontier:
    def __init__(
        self,
        *,
        max_active: int,
        per_host: int,
        gap: float,
    ) -> None:
        self.max_active = max_active
        self.per_host = per_host
        self.gap = gap
        self._hosts: dict[str, _Host] = {}
        self._ready: deque[_Host] = deque()
        self._pruned_at = 0.0
        self._pauses = 0
        self.active = 0

    @property
    def waiting(self) -> int:
        return sum(len(h.waiters) for h in self._hosts.values())

    def pause(self) -> None:
        """Start no further request until as many :meth:`resume` calls (those on the wire go
        on)."""
        self._pauses += 1

    def resume(self) -> None:
        self._pauses -= 1
        if not self._pauses:
            self._pump()

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[Turn]:
        """Wait for the host's turn; the request is on the wire inside the block."""
        entry = self._hosts.get(host)
        if entry is None:
            entry = self._hosts[host] = _Host(host)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        entry.waiters.append(waiter)
        self._consider(entry, loop.time())
        self._pump()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._finished(entry)  # granted, then cancelled before it could start
            else:
                entry.waiters.remove(waiter)
            raise
        try:
            yield Turn(entry, self.gap)
        finally:
            self._finished(entry)

    def _consider(self, host: _Host, now: float) -> None:
        """Queue the host for dispatch if it could start a request now, or when its gap ends."""
        if host.queued or not host.waiters or host.active >= self.per_host:
            return
        if host.next_at <= now:
            host.queued = True
            self._ready.append(host)
        elif host.timer is None:
            host.timer = asyncio.get_running_loop().call_at(host.next_at, self._wake, host)

    def _wake(self, host: _Host) -> None:
        host.timer = None
        self._consider(host, asyncio.get_running_loop().time())
        self._pump()

    def _pump(self) -> None:
        now = asyncio.get_running_loop().time()
        while self._ready and self.active < self.max_active and not self._pauses:
            host = self._ready.popleft()
            host.queued = False
            if host.active >= self.per_host or host.next_at > now:
                self._consider(host, now)
                continue
            while host.waiters and host.waiters[0].done():
                host.waiters.popleft()  # cancelled while waiting
            if not host.waiters:
                continue
            host.waiters.popleft().set_result(None)
            host.active += 1
            self.active += 1
            host.next_at = now + self.gap
            self._consider(host, now)  # its next request, behind the other hosts
        self._prune(now)

    def _finished(self, host: _Host) -> None:
        host.active -= 1
        self.active -= 1
        self._consider(host, asyncio.get_running_loop().time())
        self._pump()

    def _prune(self, now: float) -> None:
        """Forget idle hosts whose gap is long over (a service meets many hosts in months)."""
        if len(self._hosts) < 4096 or now - self._pruned_at < 60:
            return
        self._pruned_at = now
        for name, host in list(self._hosts.items()):
            if not host.waiters and not host.active and host.next_at < now - 60:
                del self._hosts[name]
