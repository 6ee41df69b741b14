"""What the one-off commands share: opening the stores, the fetcher and the pipeline for one run,
choosing sources, reading dates from flags."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date

from worker.app import preflight
from worker.app.progress import Progress
from worker.config import Settings, SourceSettings
from worker.errors import ConfigError
from worker.ingest.pipeline import Pipeline
from worker.net.fetcher import Fetcher
from worker.parse.urls import canonical_url, host_of
from worker.store import open_archive
from worker.store.offloop import AsyncState


@asynccontextmanager
async def one_run(
    settings: Settings,
    *,
    progress: bool,
    sources: Sequence[SourceSettings] = (),
    limit: int | None = None,
) -> AsyncIterator[tuple[Pipeline, Progress | None]]:
    """What a one-off run of the pipeline needs: the archive (checked writable, what dead
    writers left swept), the state (checked writable), the one fetcher, the pipeline, and on a
    terminal the progress bars of ``sources``; all closed when the run ends, however it ends.
    Nothing is fetched before both stores are known to take writes (:mod:`.preflight`)."""
    archive = open_archive(settings.archive)
    await asyncio.to_thread(preflight.check_archive, settings, archive)
    state = AsyncState(await asyncio.to_thread(preflight.open_checked_state, settings, archive))
    display = Progress({s.name: len(s.feeds) for s in sources}) if progress else None
    try:
        await asyncio.to_thread(archive.sweep)
        async with Fetcher(
            settings.http,
            settings.retry,
            robots_store=state,
            host_book=state,
            capture=settings.archive.warc,
        ) as fetcher:
            pipeline = Pipeline(settings, state, archive, fetcher, observer=display, limit=limit)
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
    for url in (*feeds, *urls):
        if canonical_url(url) is None:
            flag = "--feed" if url in feeds else "--url"
            raise ConfigError(f"{flag} {url!r}: not an http(s) URL")
    if names:
        chosen = [settings.source(name) for name in dict.fromkeys(names)]
    elif urls and not feeds:
        for url in urls:
            if not any(covers(s, url) for s in settings.sources):
                # Filed under a source that does not cover it, it would be extracted with the
                # wrong profile and retried by the service as that source's article.
                raise ConfigError(
                    f"--url {url}: no configured source has a feed or sitemap on "
                    f"{host_of(url)}; name the source to file it under with --source"
                )
        chosen = [s for s in settings.sources if any(covers(s, u) for u in urls)]
    else:
        chosen = [s for s in settings.sources if s.enabled]
    if not chosen:
        raise ConfigError("sources: no source is configured")
    if feeds and len(chosen) != 1:
        raise ConfigError("--feed: choose exactly one source with --source to poll these feeds for")
    return chosen


def covers(source: SourceSettings, url: str) -> bool:
    """Whether the source has a feed or sitemap on the URL's host."""
    return host_of(url) in {host_of(u) for u in (*source.feeds, source.sitemap or "") if u}


def parse_day(flag: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{flag} {value!r}: expected a date as YYYY-MM-DD") from exc
