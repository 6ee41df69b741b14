"""The pages fetched and not yet written, which wait in memory for the worker processes.

At ``PAGE_BYTES_IN_HAND`` bytes of bodies, or ``PAGES_IN_HAND`` pages, the fetcher starts no
further request, so a slow disk slows the downloads instead of filling memory; requests already
on the wire still land (at most ``http.max_connections`` more). A page counts from its body's
arrival, not from its claim: an article waiting for its host's gap holds no page, and counting
it starved every host but the first few. Bytes rather than a number of pages (128 before): when
many hosts' gaps open at once, the fetcher keeps to them while the processes catch up
(docs/PERFORMANCE.md, politeness).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

PAGE_BYTES_IN_HAND = 16 * 1024 * 1024
PAGES_IN_HAND = 4096


class Pausable(Protocol):
    """What holds the requests back (the fetcher)."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...


class PagesInHand:
    """Counts the pages in hand and pauses ``fetcher`` while they are over the bounds."""

    def __init__(self, fetcher: Pausable) -> None:
        self.fetcher = fetcher
        self.pages = 0
        self.bytes = 0
        self._paused = False

    def _over(self) -> bool:
        return self.pages >= PAGES_IN_HAND or self.bytes >= PAGE_BYTES_IN_HAND

    @contextmanager
    def holding(self, size: int) -> Iterator[None]:
        """While a page of ``size`` bytes is in hand (from its arrival until it is written)."""
        self.pages += 1
        self.bytes += size
        if not self._paused and self._over():
            self._paused = True
            self.fetcher.pause()
        try:
            yield
        finally:
            self.pages -= 1
            self.bytes -= size
            if self._paused and not self._over():
                self._paused = False
                self.fetcher.resume()
