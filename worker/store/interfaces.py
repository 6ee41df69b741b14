"""The two storage interfaces the rest of the program uses, and the rows that cross them.

:class:`StateStore` owns what was seen: feed validators and poll history, every article
discovered (queued, archived or given up) with its attempts, last error, next-try time and lease,
the robots.txt cache and backfill progress. :class:`ArchiveStore` owns the records and the raw
pages, under keys laid out by :mod:`worker.store.layout`. The SQLite file and the folder are their
first implementations; nothing outside ``worker.store`` knows which one it talks to.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from worker.store.layout import Days
from worker.store.reads import QueueReads
from worker.store.rows import (
    Archived,
    ArticleRow,
    ArticleStatus,
    Discovered,
    FeedRow,
    FeedState,
    Lease,
    QueueItem,
    Restored,
    WriteOutcome,
)


class StateStore(QueueReads, Protocol):
    """The state: one instance per process, every call a short transaction of its own."""

    def close(self) -> None: ...

    def writable(self) -> str | None:
        """None if the state can be written, else why not (for readiness checks)."""
        ...

    # feeds

    def feed(self, url: str) -> FeedState: ...

    def feed_polled(
        self,
        url: str,
        source: str,
        *,
        now: float,
        outcome: str,
        ok: bool,
        etag: str | None = None,
        last_modified: str | None = None,
        body_hash: str | None = None,
        ttl_minutes: int | None = None,
        error: str | None = None,
        next_poll_at: float | None = None,
    ) -> None: ...

    def feeds_of(self, source: str) -> list[FeedRow]: ...

    def register_feeds(self, feeds: Iterable[tuple[str, str]]) -> None:
        """Make the configured feeds (``(url, source)``) the ones to poll: new ones are due at
        once, feeds of those sources no longer configured are not polled any more."""
        ...

    def claim_feeds(
        self, sources: Collection[str], now: float, owner: str, ttl: float, limit: int
    ) -> list[str]:
        """Claim, for one poll each, up to ``limit`` feeds of ``sources`` whose next poll has
        come and that no other process is polling; the claim ends with ``feed_polled``."""
        ...

    # robots.txt, kept across runs (the fetcher decides how long it is valid)

    def robots_get(self, origin: str) -> tuple[str | None, float] | None: ...

    def robots_put(self, origin: str, text: str | None, fetched_at: float) -> None: ...

    # politeness shared by every process on this state

    def reserve_hosts(self, bookings: Sequence[tuple[str, float]]) -> list[float]:
        """Book a request start for each ``(host, gap)``, in order, in one transaction: each at
        least ``gap`` before the next one booked on its host (by any process); returns the
        seconds to wait until each booked start."""
        ...

    # backfill progress, per date range: sitemap files whose URLs were queued, and sitemap
    # indexes every child of which was read or queued (a resumed backfill skips both)

    def backfill_done(self, source: str, url: str, range_key: str) -> bool: ...

    def backfill_mark(self, source: str, url: str, range_key: str, now: float) -> None: ...

    def backfill_visited(self, source: str, range_key: str) -> set[str]:
        """Every sitemap file and index marked done for the range (one query for a walk)."""
        ...

    # articles: the queue, leases, outcomes

    def discover(self, source: str, items: Iterable[Discovered], now: float) -> tuple[int, int]:
        """Queue what is new, and archived articles whose feed entry changed: (new, requeued)."""
        ...

    def claim_due(
        self,
        source: str,
        now: float,
        owner: str,
        ttl: float,
        limit: int = 10_000,
        ids: Iterable[str] | None = None,
        due_by: float | None = None,
    ) -> list[QueueItem]:
        """Lease (for ``ttl`` seconds) the queued articles of ``source`` whose next try has come
        by ``due_by`` (default ``now``) and nobody holds, or the given ids."""
        ...

    def renew(self, leases: Iterable[Lease], now: float, ttl: float) -> list[Lease]:
        """Extend leases still held to ``now + ttl``; returns those that were lost."""
        ...

    def release(self, lease: Lease) -> bool:
        """Give the article back to the queue unchanged; False if the lease was lost."""
        ...

    def reclaim_leases(self, is_dead: Callable[[str], bool]) -> int:
        """Free the leases of owners known to be gone (a crashed process of this host)."""
        ...

    def archived_many(self, rows: Iterable[Archived], now: float) -> list[Archived]:
        """Mark articles archived, ending their leases; returns the rows refused because their
        lease was lost (the article was claimed again meanwhile)."""
        ...

    def revised(self, rows: Iterable[Archived]) -> None:
        """Note revisions written without a lease (``reextract``); the queue is not touched."""
        ...

    def failed(self, lease: Lease, *, error: str, next_try_at: float, give_up: bool) -> bool:
        """A failed try: queued until ``next_try_at``, or given up; False if the lease was lost."""
        ...

    def article(self, source: str, article_id: str) -> ArticleRow | None: ...

    def find_article(self, article_id: str) -> list[ArticleRow]:
        """Archived articles of any source with this ID."""
        ...

    def restore_archived(self, rows: Iterable[Restored]) -> int: ...

    def counts(self, source: str) -> dict[str, int]:
        """Articles of the source by status: ``queued``, ``archived``, ``gone``."""
        ...


@dataclass(frozen=True)
class WriteResult:
    outcome: WriteOutcome
    path: str  # relative to the archive root
    revision: int


@dataclass(frozen=True)
class ArchiveSpec:
    """How to open an archive again in another process (worker processes write pages)."""

    url: str
    keep_raw: bool
    options: tuple[tuple[str, str], ...] = ()  # an object store's endpoint and credentials


class ArchiveStore(Protocol):
    """The archive: records (JSON), the raw pages beside them, their earlier revisions."""

    keep_raw: bool

    @property
    def location(self) -> str:
        """Where it is, for messages (a folder, or a URL)."""
        ...

    @property
    def spec(self) -> ArchiveSpec: ...

    def writable(self) -> str | None:
        """None if records can be written, else why not (for readiness checks)."""
        ...

    def read(self, relative: str) -> dict[str, Any] | None:
        """The record stored at ``relative``, or None if there is none (or it is unreadable)."""
        ...

    def read_raw(self, relative: str) -> bytes | None:
        """The raw page the record at ``relative`` was extracted from, or None."""
        ...

    def revisions(self, relative: str) -> list[int]:
        """The earlier revisions kept of the record at ``relative``, oldest first."""
        ...

    def read_revision(self, relative: str, revision: int) -> dict[str, Any] | None: ...

    def write(self, record: dict[str, Any], relative: str, raw: bytes | None) -> WriteResult: ...

    def write_many(
        self, items: Sequence[tuple[dict[str, Any], str, bytes | None]]
    ) -> list[WriteResult | Exception]:
        """Store several records in one commit; each item's failure is its own result."""
        ...

    def records(self, source: str, days: Days = ...) -> Iterator[tuple[str, dict[str, Any]]]: ...

    def has_records(self, source: str) -> bool: ...

    def find(self, article_id: str) -> list[str]:
        """Relative paths of the current records with this ID, in any source."""
        ...

    def locate(self, path: str) -> str | None:
        """The relative path of ``path`` (a file path or key) if it names a record inside the
        archive, else None."""
        ...

    def sweep(self) -> int:
        """Remove what writers that died left half done; returns how many were removed."""
        ...


__all__ = [
    "ArchiveSpec",
    "ArchiveStore",
    "Archived",
    "ArticleRow",
    "ArticleStatus",
    "Discovered",
    "FeedRow",
    "FeedState",
    "Lease",
    "QueueItem",
    "Restored",
    "StateStore",
    "WriteOutcome",
    "WriteResult",
]
