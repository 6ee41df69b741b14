"""The one-line progress display of the one-off commands on a terminal (stderr)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from worker.ingest.outcomes import ArticleOutcome, FeedOutcome


class Progress:
    """A one-line progress display on a terminal (stderr)."""

    def __init__(self) -> None:
        self.feeds = 0
        self.claimed = 0
        self.done = 0
        self.failed = 0
        self.sitemaps = 0
        self._last = 0.0

    def feed_done(self, source: str, feed_url: str, outcome: FeedOutcome) -> None:
        self.feeds += 1
        self._show()

    def articles_claimed(self, source: str, count: int) -> None:
        self.claimed += count
        self._show()

    def article_done(self, source: str, outcome: ArticleOutcome, reason: str | None) -> None:
        self.done += 1
        self.failed += outcome in ("failed", "gone")
        self._show()

    def article_extracted(
        self, source: str, profile: str, method: str, fallbacks: Sequence[str], warnings: int
    ) -> None:
        return

    def lease_lost(self, source: str) -> None:
        return

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        sys.stderr.write(
            f"\r\x1b[K{'sitemaps read ' + str(self.sitemaps) if self.sitemaps else 'feeds polled ' + str(self.feeds)}"
            f"  articles {self.done}/{self.claimed}"
            + (f"  failed {self.failed}" if self.failed else "")
        )
        sys.stderr.flush()

    def close(self) -> None:
        self._show(force=True)
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()
