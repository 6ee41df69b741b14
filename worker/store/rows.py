"""The rows that cross the storage interfaces (:mod:`worker.store.interfaces`): a feed's state,
what a poll discovered, a lease on an article, a queued article, an article's row, an archived
article to record and one restored from the archive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

ArticleStatus = Literal["queued", "archived", "gone"]
WriteOutcome = Literal["new", "updated", "unchanged"]


@dataclass(frozen=True)
class FeedState:
    """What the next poll of a feed needs: validators, failures, schedule."""

    etag: str | None
    last_modified: str | None
    body_hash: str | None
    consecutive_failures: int
    next_poll_at: float | None
    ttl_minutes: int | None = None
    last_poll_at: float | None = None


@dataclass(frozen=True)
class FeedRow:
    """A feed's poll history, as ``status`` shows it."""

    url: str
    source: str
    last_poll_at: float | None
    last_success_at: float | None
    last_outcome: str | None
    last_error: str | None
    consecutive_failures: int
    next_poll_at: float | None


@dataclass(frozen=True)
class Discovered:
    """A feed entry about to be queued: identity, link, where it came from, its feed data."""

    id: str
    url: str
    feed_url: str | None
    entry: str | None
    fingerprint: str | None


@dataclass(frozen=True)
class Lease:
    """The claim one process holds on one article. ``token`` fences it: every claim of the
    article gets a larger one, and a write that ends a lease names the token it holds, so a
    late owner's write after its lease expired and was claimed again is refused."""

    source: str
    id: str
    token: int


@dataclass(frozen=True)
class QueueItem:
    """A claimed article: what fetching and archiving it needs, and its lease."""

    source: str
    id: str
    url: str
    feed_url: str | None
    entry: str | None
    attempts: int
    path: str | None
    first_seen: float
    token: int = 0

    @property
    def lease(self) -> Lease:
        return Lease(self.source, self.id, self.token)


@dataclass(frozen=True)
class ArticleRow:
    """Everything the state knows of one article."""

    source: str
    id: str
    url: str
    feed_url: str | None
    entry: str | None
    status: ArticleStatus
    attempts: int
    last_error: str | None
    path: str | None
    content_hash: str | None
    revision: int | None


@dataclass(frozen=True)
class Archived:
    """An article whose record is now in the archive (at ``path``, relative to its root), by
    the holder of lease ``token``."""

    source: str
    id: str
    path: str
    content_hash: str
    revision: int
    token: int
    url: str | None = None

    @property
    def lease(self) -> Lease:
        return Lease(self.source, self.id, self.token)


@dataclass(frozen=True)
class Restored:
    """An article found in the archive when the state is rebuilt from it."""

    source: str
    id: str
    url: str
    path: str
    feed_url: str | None
    content_hash: str
    revision: int


def entry_change(row: Any, item: Discovered) -> Literal["learn", "requeue"] | None:
    """What a feed's entry does to an article the state already has (``row``: its status,
    fingerprint and feed_url), the same rule for every backend.

    "learn": the row has no fingerprint (rebuilt from the archive, or fetched by ``--url``); it
    takes the entry and nothing is refetched, but only from the feed the row names (any feed if
    none): another feed words the item differently, and its own feed would then see a change.
    "requeue": an archived article whose entry changed in the feed that first brought it; only
    that feed compares (``/rss/all`` prefixes opinion titles)."""
    if item.fingerprint is None:
        return None
    if row["fingerprint"] is None and row["feed_url"] in (None, item.feed_url):
        return "learn"
    if (
        row["status"] == "archived"
        and row["feed_url"] == item.feed_url
        and row["fingerprint"] != item.fingerprint
    ):
        return "requeue"
    return None


def queue_item(row: Any, token: int) -> QueueItem:
    """A claimed article from its ``articles`` row and the token of the lease just taken."""
    return QueueItem(
        row["source"],
        row["id"],
        row["url"],
        row["feed_url"],
        row["entry"],
        row["attempts"],
        row["path"],
        row["discovered_at"],
        token,
    )


def feed_state(row: Any | None) -> FeedState:
    """A feed's state from its ``feeds`` row (a feed never polled: no row, no state)."""
    if row is None:
        return FeedState(None, None, None, 0, None)
    return FeedState(
        row["etag"],
        row["last_modified"],
        row["body_hash"],
        row["consecutive_failures"],
        row["next_poll_at"],
        row["ttl_minutes"],
        row["last_poll_at"],
    )


def article_row(row: Any) -> ArticleRow:
    """An article as the state keeps it, from its ``articles`` row."""
    return ArticleRow(
        source=row["source"],
        id=row["id"],
        url=row["url"],
        feed_url=row["feed_url"],
        entry=row["entry"],
        status=row["status"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        path=row["path"],
        content_hash=row["content_hash"],
        revision=row["revision"],
    )


def feed_row(row: Any) -> FeedRow:
    """A feed's poll history from its ``feeds`` row."""
    return FeedRow(
        url=row["url"],
        source=row["source"],
        last_poll_at=row["last_poll_at"],
        last_success_at=row["last_success_at"],
        last_outcome=row["last_outcome"],
        last_error=row["last_error"],
        consecutive_failures=row["consecutive_failures"],
        next_poll_at=row["next_poll_at"],
    )


def booking_totals(bookings: Sequence[tuple[str, float]]) -> dict[str, float]:
    """The gaps a batch of host bookings adds to each host (a host may be booked twice)."""
    totals: dict[str, float] = {}
    for host, gap in bookings:
        totals[host] = totals.get(host, 0.0) + gap
    return totals


def booking_waits(bookings: Sequence[tuple[str, float]], first: Mapping[str, float]) -> list[float]:
    """Each booking's wait, given the wait of each host's first start in the batch: a host's
    later bookings come one gap after the one before."""
    later: dict[str, float] = {}
    waits = []
    for host, gap in bookings:
        ahead = later.get(host, 0.0)
        waits.append(max(0.0, first[host] + ahead))
        later[host] = ahead + gap
    return waits
