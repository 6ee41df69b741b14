"""The one-off commands: ``fetch``, ``render`` and ``status``.

``fetch`` opens state, archive and the one HTTP client, runs the pipeline once for each chosen
source (concurrently: hosts are independent, politeness is per host inside the fetcher), and
prints a summary per source. The service (``worker.service``) calls the same pipeline.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from worker.app import markdown as render_md
from worker.config import Settings, SourceSettings
from worker.errors import (
    ArchiveError,
    ConfigError,
    StateError,
)
from worker.ingest.pipeline import Pipeline, SourceOutcome
from worker.net.fetcher import Fetcher
from worker.parse.urls import SAFE_ID, canonical_url, host_of
from worker.store.folder import Archive
from worker.store.sqlite import State


def open_state(settings: Settings, archive: Archive) -> State:
    """Open the state; a missing state beside an archive that holds records is an error, since
    starting afresh would fetch everything again (``state rebuild`` restores it)."""
    path = settings.state.path
    state = State(path)
    if state.created and any(archive.has_records(s.name) for s in settings.sources):
        state.close()
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        raise StateError(
            f"state file {path} is missing, but the archive {settings.archive.dir} holds records: "
            "run 'news-worker state rebuild' first, or everything would be fetched again"
        )
    return state


@asynccontextmanager
async def one_run(
    settings: Settings, *, progress: bool
) -> AsyncIterator[tuple[Pipeline, Progress | None]]:
    """What a one-off run of the pipeline needs: the archive (temporary files of dead writers
    swept), the state, the one fetcher, the pipeline, and on a terminal the progress display;
    all closed when the run ends, however it ends."""
    archive = Archive(settings.archive.dir, keep_raw=settings.archive.keep_raw)
    state = open_state(settings, archive)
    archive.sweep()
    display = Progress() if progress else None
    try:
        async with Fetcher(settings.http, settings.retry, robots_store=state) as fetcher:
            pipeline = Pipeline(settings, state, archive, fetcher, observer=display)
            try:
                yield pipeline, display
            finally:
                pipeline.close()
    finally:
        if display:
            display.close()
        state.close()


def choose_sources(
    settings: Settings, names: Sequence[str], feeds: Sequence[str], urls: Sequence[str]
) -> list[SourceSettings]:
    """The sources a fetch works on; flags that cannot apply are a ConfigError naming them."""
    if names:
        chosen = [settings.source(name) for name in dict.fromkeys(names)]
    elif urls and not feeds:
        hosts = {host_of(u) for u in urls if canonical_url(u)}
        chosen = [
            s
            for s in settings.sources
            if any(host_of(f) in hosts for f in (*s.feeds, s.sitemap or ""))
        ]
        if not chosen and len(settings.sources) == 1:
            chosen = list(settings.sources)
        if not chosen:
            raise ConfigError(
                "--url: no configured source serves that host; name one with --source"
            )
    else:
        chosen = [s for s in settings.sources if s.enabled]
    if not chosen:
        raise ConfigError("sources: no source is configured")
    if feeds and len(chosen) != 1:
        raise ConfigError("--feed: choose exactly one source with --source to poll these feeds for")
    for url in (*feeds, *urls):
        if canonical_url(url) is None:
            flag = "--feed" if url in feeds else "--url"
            raise ConfigError(f"{flag} {url!r}: not an http(s) URL")
    return chosen


class Progress:
    """A one-line progress display on a terminal (stderr)."""

    def __init__(self) -> None:
        self.feeds = 0
        self.claimed = 0
        self.done = 0
        self.failed = 0
        self.sitemaps = 0
        self._last = 0.0

    def feed_done(self, source: str, feed_url: str, outcome: str) -> None:
        self.feeds += 1
        self._show()

    def articles_claimed(self, source: str, count: int) -> None:
        self.claimed += count
        self._show()

    def article_done(self, source: str, outcome: str, reason: str | None) -> None:
        self.done += 1
        self.failed += outcome in ("failed", "gone")
        self._show()

    def article_extracted(
        self, source: str, profile: str, method: str, fallbacks: Sequence[str], warnings: int
    ) -> None:
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


def summary_line(outcome: SourceOutcome) -> str:
    f, a = outcome.feeds, outcome.articles
    polled = f["changed"] + f["not_modified"] + f["failed"]
    return (
        f"{outcome.source}: feeds {polled} polled ({f['changed']} changed, "
        f"{f['not_modified']} not modified, {f['failed']} failed); articles {a['new']} new, "
        f"{a['updated']} updated, {a['unchanged']} unchanged, {a['failed'] + a['gone']} failed "
        f"({a['gone']} given up), {outcome.queued} still queued"
        + (f"; {outcome.warnings} extraction warnings" if outcome.warnings else "")
    )


async def fetch(
    settings: Settings,
    *,
    sources: Sequence[str] = (),
    feeds: Sequence[str] = (),
    urls: Sequence[str] = (),
    progress: bool = False,
    json_summary: bool = False,
) -> int:
    """One poll of the chosen sources. Returns the exit code."""
    chosen = choose_sources(settings, sources, feeds, urls)
    async with one_run(settings, progress=progress) as (pipeline, _):
        outcomes = await asyncio.gather(
            *(
                pipeline.poll(
                    source,
                    feed_urls=list(feeds) if feeds else None,
                    article_urls=urls,
                    poll_feeds=not (urls and not feeds),
                )
                for source in chosen
            )
        )
    failed = any(o.failed or o.errors for o in outcomes)
    if json_summary:
        line = {
            "event": "summary",
            "sources": [o.as_dict() for o in outcomes],
            "exit_code": int(failed),
        }
        print(orjson.dumps(line).decode(), flush=True)
    else:
        for outcome in outcomes:
            print(summary_line(outcome))
            for error in outcome.errors[:10]:
                print(f"  error: {error}", file=sys.stderr)
            if len(outcome.errors) > 10:
                print(f"  ... and {len(outcome.errors) - 10} more errors", file=sys.stderr)
    return 1 if failed else 0


def find_record(settings: Settings, target: str) -> Path:
    """A record file from a path, or from an article ID looked up in state, then the archive."""
    path = Path(target)
    if path.suffix == ".json" and path.is_file():
        return path
    if not SAFE_ID.match(target):
        raise ConfigError(f"PATH_OR_ID {target!r}: no such file, and not an article ID")
    if settings.state.path.is_file():
        state = State(settings.state.path)
        try:
            rows = state.find_article(target)
        finally:
            state.close()
        for row in rows:
            candidate = settings.archive.dir / str(row["path"])
            if candidate.is_file():
                return candidate
    matches = sorted(settings.archive.dir.glob(f"*/*/*/*/{target}.json"))
    if matches:
        return matches[-1]
    raise ConfigError(
        f"PATH_OR_ID {target!r}: no archived article with that ID in {settings.archive.dir}"
    )


def render(settings: Settings, target: str, fmt: str) -> str:
    path = find_record(settings, target)
    try:
        record = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ArchiveError(f"{path}: not a readable record ({exc})") from exc
    if fmt == "json":
        return orjson.dumps(record, option=orjson.OPT_INDENT_2).decode() + "\n"
    return render_md.markdown(record)


def _when(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else None


def status(settings: Settings) -> list[dict[str, Any]]:
    """Per source: last poll, last success, next due, consecutive failures, counts."""
    if not settings.state.path.exists():
        # Nothing has run yet: say so, without creating the state file (or its folder).
        return [_status_row(source.name, [], {}) for source in settings.sources]
    state = State(settings.state.path)
    try:
        return [
            _status_row(source.name, state.feeds_of(source.name), state.counts(source.name))
            for source in settings.sources
        ]
    finally:
        state.close()


def _status_row(
    name: str, feeds: Sequence[sqlite3.Row], counts: Mapping[str, int]
) -> dict[str, Any]:
    polls = [f["last_poll_at"] for f in feeds if f["last_poll_at"]]
    successes = [f["last_success_at"] for f in feeds if f["last_success_at"]]
    due = [f["next_poll_at"] for f in feeds if f["next_poll_at"]]
    return {
        "source": name,
        "last_poll": _when(max(polls, default=None)),
        "last_success": _when(max(successes, default=None)),
        "next_due": _when(min(due, default=None)),
        "consecutive_failures": max((f["consecutive_failures"] for f in feeds), default=0),
        "archived": counts.get("archived", 0),
        "queued": counts.get("queued", 0),
        "given_up": counts.get("gone", 0),
        "feeds": [
            {
                "url": f["url"],
                "last_outcome": f["last_outcome"],
                "consecutive_failures": f["consecutive_failures"],
                "last_error": f["last_error"],
            }
            for f in feeds
        ],
    }


def status_table(rows: list[dict[str, Any]]) -> str:
    columns = (
        "source",
        "last_poll",
        "last_success",
        "next_due",
        "consecutive_failures",
        "archived",
        "queued",
        "given_up",
    )
    heads = (
        "SOURCE",
        "LAST POLL",
        "LAST SUCCESS",
        "NEXT DUE",
        "FAILURES",
        "ARCHIVED",
        "QUEUED",
        "GIVEN UP",
    )
    cells = [[str(row[c]) if row[c] is not None else "-" for c in columns] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(heads)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)
