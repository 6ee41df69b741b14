"""Progress bars of the one-off commands on a terminal (stderr), one per source: articles done of
those claimed, failures, feeds polled (or sitemaps read), the rate and the time left. Drawn by
rich; while they are up, log lines (``-v``) are printed above them (:func:`logs.above`).

It is the pipeline's observer for ``fetch`` and ``backfill``; ``reextract`` drives it by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as Bars
from rich.text import Text

from worker.app import logs
from worker.ingest.outcomes import ArticleOutcome, FeedOutcome


class _Rate(ProgressColumn):
    """Articles per second, over rich's recent samples."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:5.1f}/s" if speed is not None else "    -/s", style="cyan")


class Progress:
    """Bars per source: ``feeds`` maps each source to its number of feeds (for "feeds 2/3")."""

    def __init__(
        self,
        feeds: Mapping[str, int] | None = None,
        *,
        unit: str = "articles",
        console: Console | None = None,
    ) -> None:
        self.console = console or Console(stderr=True)
        self._feeds = dict(feeds or {})
        self._unit = unit
        self._polled: dict[str, int] = {}
        self._failed: dict[str, int] = {}
        self._totals: dict[str, int] = {}
        self._tasks: dict[str, TaskID] = {}
        self.sitemaps = 0
        self.bars = Bars(
            TextColumn("{task.description}", style="bold"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            _Rate(),
            TimeRemainingColumn(compact=True),
            TextColumn("left  {task.fields[note]}"),
            console=self.console,
            refresh_per_second=8,
        )
        for source in self._feeds:
            self._task(source)
        self.bars.start()
        logs.above(self.console)

    def _task(self, source: str) -> TaskID:
        task = self._tasks.get(source)
        if task is None:
            task = self.bars.add_task(source, total=None, unit=self._unit, note=self._note(source))
            self._tasks[source] = task
        return task

    def _note(self, source: str) -> str:
        parts = []
        if self.sitemaps:
            parts.append(f"sitemaps {self.sitemaps}")
        elif self._feeds.get(source):
            parts.append(f"feeds {self._polled.get(source, 0)}/{self._feeds[source]}")
        if self._failed.get(source):
            parts.append(f"failed {self._failed[source]}")
        return "  ".join(parts)

    def _update(self, source: str, **changes: object) -> None:
        self.bars.update(self._task(source), note=self._note(source), **changes)  # type: ignore[arg-type]

    def add_total(self, source: str, count: int) -> None:
        self._totals[source] = self._totals.get(source, 0) + count
        self._update(source, total=self._totals[source])

    def advance(self, source: str, *, failed: bool = False) -> None:
        if failed:
            self._failed[source] = self._failed.get(source, 0) + 1
        self._update(source, advance=1)

    # the pipeline's observer

    def feed_done(self, source: str, feed_url: str, outcome: FeedOutcome) -> None:
        self._polled[source] = self._polled.get(source, 0) + 1
        self._update(source)

    def articles_claimed(self, source: str, count: int) -> None:
        self.add_total(source, count)

    def article_done(self, source: str, outcome: ArticleOutcome, reason: str | None) -> None:
        self.advance(source, failed=outcome in ("failed", "gone"))

    def article_extracted(
        self, source: str, profile: str, method: str, fallbacks: Sequence[str], warnings: int
    ) -> None:
        return

    def lease_lost(self, source: str) -> None:
        return

    def close(self) -> None:
        for source, task in self._tasks.items():
            if source not in self._totals:  # nothing was claimed: an empty bar, not a pulse
                self.bars.update(task, total=0, note=self._note(source))
        self.bars.stop()
        logs.above(None)
