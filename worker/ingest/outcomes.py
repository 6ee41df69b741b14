"""What a poll reports: outcomes as values, counted per source, and the observer that watches
them (progress on a terminal, metrics in the service)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

FeedOutcome = Literal["changed", "not_modified", "failed"]
ArticleOutcome = Literal["new", "updated", "unchanged", "failed", "gone"]
FEED_OUTCOMES: tuple[FeedOutcome, ...] = ("changed", "not_modified", "failed")
ARTICLE_OUTCOMES: tuple[ArticleOutcome, ...] = ("new", "updated", "unchanged", "failed", "gone")


class Observer(Protocol):
    """Receives events as the pipeline works."""

    def feed_done(self, source: str, feed_url: str, outcome: FeedOutcome) -> None: ...

    def articles_claimed(self, source: str, count: int) -> None: ...

    def article_done(self, source: str, outcome: ArticleOutcome, reason: str | None) -> None: ...

    def article_extracted(
        self, source: str, profile: str, method: str, fallbacks: Sequence[str], warnings: int
    ) -> None: ...

    def lease_lost(self, source: str) -> None: ...


@dataclass
class SourceOutcome:
    """The counts of one poll of one source, as the summary prints them."""

    source: str
    feeds: Counter[FeedOutcome] = field(default_factory=Counter)
    articles: Counter[ArticleOutcome] = field(default_factory=Counter)
    discovered: int = 0
    queued: int = 0
    warnings: int = 0
    errors: list[str] = field(default_factory=list)
    archive_errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.feeds["failed"] or self.articles["failed"] or self.articles["gone"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "feeds": {k: self.feeds[k] for k in FEED_OUTCOMES},
            "articles": {k: self.articles[k] for k in ARTICLE_OUTCOMES},
            "discovered": self.discovered,
            "still_queued": self.queued,
            "extraction_warnings": self.warnings,
        }
