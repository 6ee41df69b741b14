"""Lanes: the claimed articles of a run wait in one queue per host, and only a few per host are
started at a time.

A claim may bring thousands of articles (a first poll, a backfill); a task for each at once held
about 9 KB apiece (its coroutine chain down to the frontier's wait, its retry state) while it
waited for its host's turn: 245 MB for 20,000 (docs/PERFORMANCE.md, growth). Here an article
waits as a small queue entry until one of its host's ``width`` lanes takes it; a lane moves on
once the article's page is in hand (or its work ended), so the page's extraction and writing,
bounded by the pages in hand, never hold the host's next request back. ``width`` is the host's
concurrency plus one: while its requests are on the wire, one more waits in the frontier, so the
host's next turn is never missed, and an idle host's article never waits behind another host.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

# Starts one article's work: given the future to settle once the page is in hand.
Start = Callable[[asyncio.Future[None]], Coroutine[Any, Any, None]]


@dataclass
class _Work:
    start: Start
    done: asyncio.Future[None]
    group: set[asyncio.Task[None]]  # the work under way of the caller that submitted it


@dataclass
class _Host:
    waiting: deque[_Work] = field(default_factory=deque)
    lanes: int = 0


class Lanes:
    def __init__(self, width: int) -> None:
        self.width = max(1, width)
        self._hosts: dict[str, _Host] = {}
        self._lanes: set[asyncio.Task[None]] = set()

    async def run_all(self, work: list[tuple[str, Start]]) -> None:
        """Run every ``(host, start)`` in its host's lanes; returns when all have ended. Cancelled,
        it cancels its own work under way (waits for it to unwind) and drops what still waits."""
        loop = asyncio.get_running_loop()
        group: set[asyncio.Task[None]] = set()
        futures = []
        for host, start in work:
            queued = _Work(start, loop.create_future(), group)
            futures.append(queued.done)
            entry = self._hosts.setdefault(host, _Host())
            entry.waiting.append(queued)
            if entry.lanes < self.width:
                entry.lanes += 1
                lane = loop.create_task(self._lane(host, entry))
                self._lanes.add(lane)
                lane.add_done_callback(self._lanes.discard)
        try:
            await asyncio.gather(*futures)
        except asyncio.CancelledError:
            for future in futures:
                future.cancel()
            for task in list(group):
                task.cancel()
            await asyncio.gather(*group, return_exceptions=True)
            raise

    async def _lane(self, host: str, entry: _Host) -> None:
        loop = asyncio.get_running_loop()
        try:
            while entry.waiting:
                work = entry.waiting.popleft()
                if work.done.done():
                    continue  # its caller was cancelled
                in_hand: asyncio.Future[None] = loop.create_future()
                task = loop.create_task(work.start(in_hand))
                work.group.add(task)
                task.add_done_callback(functools.partial(_settle, work))
                await asyncio.wait((task, in_hand), return_when=asyncio.FIRST_COMPLETED)
        finally:
            entry.lanes -= 1
            if not entry.lanes and not entry.waiting and self._hosts.get(host) is entry:
                del self._hosts[host]

    async def close(self) -> None:
        """Stop the lanes (the run is over; what they started is its callers' to end)."""
        self._hosts.clear()
        for lane in list(self._lanes):
            lane.cancel()
        await asyncio.gather(*self._lanes, return_exceptions=True)


def _settle(work: _Work, task: asyncio.Task[None]) -> None:
    work.group.discard(task)
    if work.done.done():
        return
    if task.cancelled():
        work.done.cancel()
    elif (error := task.exception()) is not None:
        work.done.set_exception(error)
    else:
        work.done.set_result(None)
