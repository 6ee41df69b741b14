"""The pipeline: one poll of one source, wiring the stages. ``fetch`` and ``run`` both call it.

feeds (:mod:`.polling`) ─▶ discover (persisted, queued) ─▶ claim due articles ─▶ fetch page ─▶
extract ─▶ normalize ─▶ archive ─▶ state (:mod:`.articles`). Every feed and every article ends as
an outcome value that is logged and counted; one bad feed or page never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from worker.config import Settings, SourceSettings
from worker.errors import ExtractError, ParseError
from worker.extract.registry import article_id
from worker.ingest.articles import Articles
from worker.ingest.context import Context
from worker.ingest.leases import owner_is_dead
from worker.ingest.outcomes import FeedOutcome, Observer, SourceOutcome
from worker.ingest.polling import poll_feed
from worker.ingest.pool import POOL_IDLE, WorkerPool
from worker.net.fetcher import Fetcher
from worker.parse import sitemaps
from worker.parse.urls import canonical_url
from worker.store.captures import open_captures
from worker.store.interfaces import ArchiveStore, Discovered
from worker.store.offloop import AsyncState

log = logging.getLogger(__name__)


class Pipeline:
    """Polls sources and archives their articles; shared by ``fetch``, ``backfill`` and ``run``."""

    def __init__(
        self,
        settings: Settings,
        state: AsyncState,
        archive: ArchiveStore,
        fetcher: Fetcher,
        observer: Observer | None = None,
        limit: int | None = None,
    ) -> None:
        pool = WorkerPool(settings.archive.processes, settings.limits)
        pool.warm()  # its imports happen while the first feeds load
        self.context = Context(
            settings,
            state,
            archive,
            fetcher,
            pool,
            observer,
            captures=open_captures(settings.archive, archive),
            limit=limit,
        )
        self.articles = Articles(self.context)

    async def start(self) -> None:
        """Free the leases of this host's processes that are gone, at once (the others'
        leases expire by themselves); finish the WARC files such processes left open."""
        await self.context.state.reclaim_leases(lambda o: owner_is_dead(o, self.context.owner))
        if self.context.captures is not None:  # WARC files that writers which died left open
            await asyncio.to_thread(self.context.captures.recover)

    @property
    def state(self) -> AsyncState:
        return self.context.state

    @property
    def fetcher(self) -> Fetcher:
        return self.context.fetcher

    def drain(self) -> None:
        """Start no further article: those claimed and not yet started stay queued."""
        self.context.draining = True

    async def poll(
        self,
        source: SourceSettings,
        *,
        feed_urls: Sequence[str] | None = None,
        article_urls: Sequence[str] = (),
        poll_feeds: bool = True,
        fetch_articles: bool = True,
    ) -> SourceOutcome:
        """Poll the source's feeds (or ``feed_urls``), then fetch everything due (unless
        ``fetch_articles`` is false: what is new stays queued); log one ``poll_done`` line with
        the counts."""
        outcome = SourceOutcome(source.name)
        started = time.monotonic()
        poll_start = self.context.now()
        urls = list(feed_urls if feed_urls is not None else source.feeds) if poll_feeds else []

        async def feed_then_articles(url: str) -> None:
            # A feed's new articles are fetched as soon as it is read, while other feeds are
            # still loading (the per-host gates keep the whole polite).
            changed = await self.poll_feed(source, url, outcome) == "changed"
            if changed and fetch_articles:
                await self.articles.process_due(source, outcome, due_by=poll_start)

        await asyncio.gather(*(feed_then_articles(url) for url in urls))
        explicit = await self._discover_urls(source, article_urls, outcome)
        if fetch_articles:
            await self.articles.process_due(source, outcome, explicit, due_by=poll_start)
        outcome.queued = (await self.context.state.counts(source.name))["queued"]
        log.info(
            "poll_done",
            extra={
                "feed_urls": urls,
                "elapsed_ms": round((time.monotonic() - started) * 1000),
                **outcome.as_dict(),
            },
        )
        return outcome

    async def poll_feed(
        self, source: SourceSettings, url: str, outcome: SourceOutcome
    ) -> FeedOutcome:
        return await poll_feed(self.context, source, url, outcome)

    async def process_due(self, source: SourceSettings, outcome: SourceOutcome) -> None:
        """Fetch and archive the source's queued articles whose next try has come."""
        await self.articles.process_due(source, outcome)

    async def _discover_urls(
        self, source: SourceSettings, urls: Sequence[str], outcome: SourceOutcome
    ) -> list[str]:
        items = []
        for raw in urls:
            url = canonical_url(raw)
            if url is None:
                outcome.errors.append(f"--url {raw!r}: not an http(s) URL")
                continue
            items.append(Discovered(article_id(url, source.profile), url, None, None, None))
        if items:
            new, _ = await self.context.state.discover(source.name, items, self.context.now())
            outcome.discovered += new
        return [item.id for item in items]

    async def parse_sitemap(self, body: bytes, url: str) -> sitemaps.Sitemap:
        """A sitemap parsed in a worker process, within the item budget."""
        try:
            return await self.context.pool.run(sitemaps.parse, body, url)
        except ExtractError as exc:  # past its budget, or the process died
            raise ParseError(str(exc), reason=exc.reason) from exc

    def reap_pool(self, idle: float = POOL_IDLE) -> None:
        self.context.pool.reap(idle)

    async def close(self) -> None:
        await self.articles.close()
        await asyncio.to_thread(self.context.pool.close)
        if self.context.captures is not None:
            await asyncio.to_thread(self.context.captures.close)
