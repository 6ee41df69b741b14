"""What the fetcher asks of its owner and tells it: the host book that keeps each host's gap
across processes, and the callback told of every request (the service's metrics)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

# Told of every request sent: (host, status or None, seconds, kind, reason or None). ``kind`` is
# what the caller asked for (``feed``, ``page``, ``sitemap``) or ``robots``; ``reason`` is the
# error's when the request raised before a usable answer (``dns_error``, ``timeout``...).
OnRequest = Callable[[str, int | None, float, str, str | None], None]
KINDS = ("feed", "page", "robots", "sitemap")


class HostBook(Protocol):
    """Books request starts per host where every process on the same state sees them."""

    async def reserve_host(self, host: str, gap: float) -> float:
        """Book the next start on ``host``; returns the seconds to wait before it."""
        ...
