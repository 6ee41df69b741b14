"""What the one-off commands share: opening the stores, the fetcher and the pipeline for one run,
choosing sources, reading dates from flags."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date

from worker.app.progress import Progress
from worker.config import Settings, SourceSettings
from worker.errors import ConfigError
from worker.ingest.pipeline import Pipeline
from worker.net.fetcher import Fetcher
from worker.parse.urls import canonical_url, host_of
from worker.store import open_archive, open_state
from worker.store.offloop import AsyncState


@asynccontextmanager
async def one_run(
    settings: Settings, *, progress: bool
) -> AsyncIterator[tuple[Pipeline, Progress | None]]:
    """What a one-off run of the pipeline needs: the archive (what dead writers left swept),
    the state, the one fetcher, the pipeline, and on a terminal the progress display; all closed
    when the run ends, however it ends."""
    archive = open_archive(settings.archive)
    state = AsyncState(open_state(settings, archive))
    display = Progress() if progress else None
    try:
        await asyncio.to_thread(archive.sweep)
        async with Fetcher(
            settings.http,
            settings.retry,
            robots_store=state,
            host_book=state,
            capture=settings.archive.warc,
        ) as fetcher:
            pipeline = Pipeline(settings, state, archive, fetcher, observer=display)
            await pipeline.start()
            try:
                yield pipeline, display
            finally:
                await pipeline.close()
    finally:
        if display:
            display.close()
        await state.close()


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


def parse_day(flag: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{flag} {value!r}: expected a date as YYYY-MM-DD") from exc
