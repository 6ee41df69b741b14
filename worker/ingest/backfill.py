"""Backfill: archive a date range from a source's sitemaps, through the same queue as the feeds.

The sitemap index is read (nested indexes followed), the files that can hold the range are
chosen (the Moscow Times' monthly ``YYYY-M.xml``, month not zero-padded; elsewhere dates in the
file's URL and its ``lastmod``), and the article URLs in range are queued: by their news
publication date, else the date in their URL, else, undated, only when the file itself lies
inside the range. Queued articles then go through the ordinary pipeline, so nothing is fetched
twice and politeness applies. Each sitemap file whose URLs were queued is recorded in state, and
so is each index once every child of it was read, queued or found out of range, so an
interrupted backfill resumes where it stopped without reading them again.

The walk is bounded: indexes are followed ``backfill.max_depth`` levels below the source's
sitemap, one run reads at most ``backfill.max_files`` files (the next run goes on from there),
each file is fetched with the protocol's 50 MB cap and parsed in a worker process within the
item budget.
"""

from __future__ import annotations

import calendar
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit

from worker.config import BackfillSettings, SourceSettings
from worker.errors import FetchError, ParseError
from worker.extract.registry import article_id
from worker.net.fetcher import Fetcher
from worker.parse import dates, sitemaps
from worker.store.interfaces import Discovered
from worker.store.offloop import AsyncState

log = logging.getLogger(__name__)

SitemapParser = Callable[[bytes, str], Awaitable[sitemaps.Sitemap]]
_MONTHLY = re.compile(r"/(\d{4})-(\d{1,2})\.xml(?:\.gz)?$")
_URL_DAY = re.compile(r"/(\d{4})[/-](\d{2})[/-](\d{2})(?:/|-|$)")
_URL_MONTH = re.compile(r"[/_-](\d{4})[/_-](\d{2})(?:[/_.-]|$)")


@dataclass(frozen=True)
class DateRange:
    since: date
    until: date

    def holds(self, day: date) -> bool:
        return self.since <= day <= self.until

    def key(self) -> str:
        return f"{self.since.isoformat()}..{self.until.isoformat()}"


def _month(year: int, month: int) -> tuple[date, date] | None:
    if not (1 <= month <= 12 and 1990 <= year <= 2200):
        return None
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def file_span(url: str, lastmod: str | None = None) -> tuple[date | None, date | None]:
    """What a sitemap file's URL (and lastmod) says about the days it can hold: (first, last);
    None where unknown. ``YYYY-M.xml`` is a month (the Moscow Times' monthly files)."""
    path = urlsplit(url).path
    span: tuple[date, date] | None = None
    monthly = _MONTHLY.search(path)
    if monthly:
        span = _month(int(monthly.group(1)), int(monthly.group(2)))
    if span is None:
        day = _URL_DAY.search(path)
        if day:
            try:
                single = date(int(day.group(1)), int(day.group(2)), int(day.group(3)))
                span = (single, single)
            except ValueError:
                span = None
    if span is None:
        month = _URL_MONTH.search(path)
        if month:
            span = _month(int(month.group(1)), int(month.group(2)))
    if span is not None:
        return span
    modified = dates.parse_date(lastmod)
    # Nothing in a file last modified on day D was published after D.
    return (None, modified.date()) if modified else (None, None)


def url_day(url: str) -> date | None:
    """The publication day in an article URL (``/2024/12/27/slug``), if it carries one."""
    match = _URL_DAY.search(urlsplit(url).path)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def choose_file(entry: sitemaps.SitemapEntry, wanted: DateRange) -> bool:
    first, last = file_span(entry.loc, entry.lastmod)
    if last is not None and last < wanted.since:
        return False
    return not (first is not None and first > wanted.until)


def entry_day(entry: sitemaps.SitemapEntry) -> date | None:
    published = dates.parse_date(entry.published)
    if published is not None:
        return published.date()
    return url_day(entry.loc)


@dataclass
class BackfillOutcome:
    files_read: int = 0
    files_skipped_done: int = 0
    files_out_of_range: int = 0
    files_failed: int = 0
    files_too_deep: int = 0
    files_over_limit: int = 0  # not read: the run reached backfill.max_files
    queued: int = 0
    in_range: int = 0
    undated_skipped: int = 0
    errors: list[str] = field(default_factory=list)


class Backfill:
    """Walks a source's sitemaps and queues the articles of a date range."""

    def __init__(
        self,
        source: SourceSettings,
        wanted: DateRange,
        fetcher: Fetcher,
        state: AsyncState,
        now: Callable[[], float],
        on_file: Callable[[str, int], None] | None = None,
        *,
        parse: SitemapParser,
        limits: BackfillSettings | None = None,
    ) -> None:
        self.source = source
        self.wanted = wanted
        self.fetcher = fetcher
        self.state = state
        self.now = now
        self.on_file = on_file
        self.parse = parse  # in a worker process, within the item budget
        self.limits = limits or BackfillSettings()
        self.outcome = BackfillOutcome()
        self._done: set[str] = set()

    async def run(self) -> BackfillOutcome:
        if self.source.sitemap:
            self._done = await self.state.backfill_visited(self.source.name, self.wanted.key())
            await self._visit(self.source.sitemap, 0, seen=set())
        if self.outcome.files_over_limit:
            self.outcome.errors.append(
                f"backfill.max_files ({self.limits.max_files}) reached, "
                f"{self.outcome.files_over_limit} sitemap files not read: run it again to go on"
            )
        return self.outcome

    async def _visit(self, url: str, depth: int, seen: set[str]) -> bool:
        """Read one sitemap file (an index: its children too); True when it is done for the
        range (read and queued, or out of range), False when part of it must be read again."""
        if url in seen:
            return True
        seen.add(url)
        if url in self._done:
            self.outcome.files_skipped_done += 1
            return True
        outcome = self.outcome
        if outcome.files_read + outcome.files_failed >= self.limits.max_files:
            outcome.files_over_limit += 1
            return False
        try:
            response = await self.fetcher.get(
                url, proxy=self.source.proxy, max_bytes=sitemaps.MAX_SITEMAP_BYTES, kind="sitemap"
            )
            parsed = await self.parse(response.body, response.url)
        except (FetchError, ParseError) as exc:
            self.outcome.files_failed += 1
            self.outcome.errors.append(f"{url}: {exc}")
            log.warning(
                "sitemap_failed",
                extra={
                    "source": self.source.name,
                    "url": url,
                    "reason": exc.reason,
                    "error": str(exc),
                },
            )
            return False
        outcome.files_read += 1
        if parsed.kind == "index":
            done = True
            for entry in parsed.entries:
                if not choose_file(entry, self.wanted):
                    outcome.files_out_of_range += 1
                elif depth >= self.limits.max_depth:
                    outcome.files_too_deep += 1
                else:
                    done = await self._visit(entry.loc, depth + 1, seen) and done
            if depth >= self.limits.max_depth and parsed.entries:
                log.warning(
                    "sitemap_too_deep",
                    extra={"source": self.source.name, "url": url, "depth": depth + 1},
                )
            if done:
                await self.state.backfill_mark(self.source.name, url, self.wanted.key(), self.now())
            return done
        await self._queue(url, parsed)
        return True

    async def _queue(self, url: str, parsed: sitemaps.Sitemap) -> None:
        first, last = file_span(url)
        whole_file_in_range = (
            first is not None
            and last is not None
            and self.wanted.holds(first)
            and self.wanted.holds(last)
        )
        items = []
        for entry in parsed.entries:
            day = entry_day(entry)
            if day is None and not whole_file_in_range:
                self.outcome.undated_skipped += 1
                continue
            if day is not None and not self.wanted.holds(day):
                continue
            items.append(
                Discovered(article_id(entry.loc, self.source.profile), entry.loc, url, None, None)
            )
        self.outcome.in_range += len(items)
        new, _ = await self.state.discover(self.source.name, items, self.now())
        self.outcome.queued += new
        await self.state.backfill_mark(self.source.name, url, self.wanted.key(), self.now())
        if self.on_file is not None:
            self.on_file(url, new)
        log.info(
            "sitemap_queued",
            extra={"source": self.source.name, "url": url, "in_range": len(items), "new": new},
        )
