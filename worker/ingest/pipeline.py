"""The pipeline: one poll of one source, wiring the stages. ``fetch`` and ``run`` both call it.

feeds ─▶ discover (persisted, queued) ─▶ claim due articles ─▶ fetch page ─▶ extract ─▶ normalize
─▶ archive ─▶ state. Every feed and every article ends as an outcome value that is logged and
counted; one bad feed or page never stops the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
import random
import secrets
import socket
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from worker.config import Settings, SourceSettings
from worker.errors import (
    ArchiveError,
    ExtractError,
    FetchError,
    GoneError,
    ParseError,
    TransientFetchError,
)
from worker.extract.registry import article_id
from worker.ingest.pool import POOL_IDLE, WorkerPool
from worker.ingest.work import PageJob
from worker.model import NO_MATCH
from worker.net.fetcher import Fetcher
from worker.net.headers import backoff, cache_max_age, conditional_headers, next_poll, validators
from worker.parse import feeds
from worker.parse.urls import canonical_url
from worker.store.folder import Archive
from worker.store.sqlite import Discovered, QueueItem, State

log = logging.getLogger(__name__)

LEASE_SECONDS = 900.0
PAGES_IN_HAND = 128
GIVE_UP_REASONS = frozenset(
    {
        "robots_disallowed",
        "private_address",
        "too_large",
        "bad_url",
        "bad_encoding",
    }
)  # redirect loops and chains are retried slowly: sites fix their redirects


class Observer(Protocol):
    """Receives events as the pipeline works: progress on a terminal, metrics in the service."""

    def feed_done(self, source: str, feed_url: str, outcome: str) -> None: ...

    def articles_claimed(self, source: str, count: int) -> None: ...

    def article_done(self, source: str, outcome: str, reason: str | None) -> None: ...

    def article_extracted(
        self, source: str, profile: str, method: str, fallbacks: Sequence[str], warnings: int
    ) -> None: ...


@dataclass
class SourceOutcome:
    """The counts of one poll of one source, as the summary prints them."""

    source: str
    feeds: Counter[str] = field(default_factory=Counter)
    articles: Counter[str] = field(default_factory=Counter)
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
            "feeds": {k: self.feeds[k] for k in ("changed", "not_modified", "failed")},
            "articles": {
                k: self.articles[k] for k in ("new", "updated", "unchanged", "failed", "gone")
            },
            "discovered": self.discovered,
            "still_queued": self.queued,
            "extraction_warnings": self.warnings,
        }


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_is_dead(owner: str, me: str) -> bool:
    """Whether a lease owner ("host:pid:token") is a process of this host that no longer runs.

    A lease of our own PID with another token is dead too: in a container every restart is PID 1.
    """
    host, _, rest = owner.partition(":")
    pid_text, _, _token = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or owner == me:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def fingerprint(entry: feeds.FeedEntry) -> str:
    """What makes a feed entry "changed" for an archived article (not the link: slugs change)."""
    key = "\x1f".join([entry.title or "", entry.summary or "", entry.updated or ""])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def _entry_json(entry: feeds.FeedEntry) -> str:
    return orjson.dumps(dataclasses.asdict(entry)).decode("utf-8")


def entry_from_json(raw: str | None) -> feeds.FeedEntry | None:
    if not raw:
        return None
    try:
        data = orjson.loads(raw)
        data["authors"] = tuple(data.get("authors") or ())
        data["categories"] = tuple(data.get("categories") or ())
        return feeds.FeedEntry(**data)
    except (orjson.JSONDecodeError, TypeError):
        return None


class Pipeline:
    """Polls sources and archives their articles; shared by ``fetch`` and ``run``."""

    def __init__(
        self,
        settings: Settings,
        state: State,
        archive: Archive,
        fetcher: Fetcher,
        observer: Observer | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.archive = archive
        self.fetcher = fetcher
        self.observer = observer
        self.owner = _owner()
        self.draining = False  # set on shutdown: claimed articles not yet started stay queued
        self.pool = WorkerPool(settings.archive.processes)
        # Pages fetched but not yet written wait in memory; fetching pauses beyond this many
        # (about 15 MB of news pages), so a slow disk slows the downloads instead of filling RAM.
        self._in_hand = asyncio.Semaphore(PAGES_IN_HAND)
        self._archived: list[tuple[str, str, str, str, int]] = []
        self.state.reclaim_leases(lambda owner: owner_is_dead(owner, self.owner))

    @staticmethod
    def now() -> float:
        return time.time()

    async def poll(
        self,
        source: SourceSettings,
        *,
        feed_urls: Sequence[str] | None = None,
        article_urls: Sequence[str] = (),
        poll_feeds: bool = True,
    ) -> SourceOutcome:
        """Poll the source's feeds (or ``feed_urls``), then fetch everything due."""
        outcome = SourceOutcome(source.name)
        started = time.monotonic()
        poll_start = self.now()
        if poll_feeds:
            urls = list(feed_urls if feed_urls is not None else source.feeds)

            async def feed_then_articles(url: str) -> None:
                # A feed's new articles are fetched as soon as it is read, while other feeds
                # are still loading (the per-host gates keep the whole polite).
                if await self.poll_feed(source, url, outcome) == "changed":
                    await self.process_due(source, outcome, due_by=poll_start)

            await asyncio.gather(*(feed_then_articles(url) for url in urls))
        explicit = self._discover_urls(source, article_urls, outcome)
        await self.process_due(source, outcome, explicit, due_by=poll_start)
        outcome.queued = self.state.counts(source.name)["queued"]
        log.info(
            "poll_done",
            extra={
                "source": source.name,
                "elapsed_ms": round((time.monotonic() - started) * 1000),
                **outcome.as_dict(),
            },
        )
        return outcome

    def _discover_urls(
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
            new, _ = self.state.discover(source.name, items, self.now())
            outcome.discovered += new
        return [item.id for item in items]

    async def poll_feed(self, source: SourceSettings, url: str, outcome: SourceOutcome) -> str:
        """Fetch and parse one feed, queue its new entries. Returns the feed outcome."""
        known = self.state.feed(url)
        sent = conditional_headers(known.etag, known.last_modified)
        now = self.now()
        service = self.settings.service
        result = "failed"
        try:
            response = await self.fetcher.get(url, headers=sent)
            if response.not_modified and not sent:
                raise ParseError("HTTP 304 to a request without validators")
            etag, last_modified = validators(response.headers)
            body_hash = ttl = None
            result = "not_modified"
            if not response.not_modified:
                body_hash = hashlib.sha256(response.body).hexdigest()
                if body_hash != known.body_hash:
                    if known.body_hash is None:
                        # Read for the first time: every entry is new. Start the processes
                        # now if there are many, while the feed is parsed.
                        self.pool.want(feeds.entry_estimate(response.body))
                    parsed = await self._parse_feed(response.body, response.url, response.headers)
                    self._queue_entries(source, url, parsed, outcome)
                    result, ttl = "changed", parsed.ttl_minutes
                    if parsed.problem:
                        log.warning(
                            "feed_malformed",
                            extra={
                                "source": source.name,
                                "feed_url": url,
                                "reason": parsed.problem,
                                "entries": len(parsed.entries),
                            },
                        )
            due = next_poll(
                now,
                source.interval,
                ok=True,
                max_age=cache_max_age(response.headers),
                ttl_minutes=ttl or known.ttl_minutes,
                honour_ttl=source.honour_ttl,
                max_interval=service.max_interval,
            )
            self.state.feed_polled(
                url,
                source.name,
                now=now,
                outcome=result,
                ok=True,
                etag=etag,
                last_modified=last_modified,
                body_hash=body_hash,
                ttl_minutes=ttl,
                next_poll_at=due,
            )
        except Exception as exc:  # FetchError, ParseError, or a bug: never stops other feeds
            result = "failed"
            if not isinstance(exc, FetchError | ParseError):
                log.exception("feed_crashed", extra={"source": source.name, "feed_url": url})
            error = str(exc) or repr(exc)
            reason = getattr(
                exc, "reason", "parse_error" if isinstance(exc, ParseError) else "internal_error"
            )
            due = next_poll(
                now,
                source.interval,
                ok=False,
                failures=known.consecutive_failures + 1,
                retry_after=getattr(exc, "retry_after", None),
                failure_cap=service.failure_backoff_max,
            )
            self.state.feed_polled(
                url,
                source.name,
                now=now,
                outcome="failed",
                ok=False,
                error=error,
                next_poll_at=due,
            )
            log.warning(
                "feed_failed",
                extra={
                    "source": source.name,
                    "feed_url": url,
                    "reason": reason,
                    "error": error,
                    "failures": known.consecutive_failures + 1,
                    "retry_in_s": round(due - now),
                },
            )
            outcome.errors.append(f"{url}: {error}")
        outcome.feeds[result] += 1
        if self.observer:
            self.observer.feed_done(source.name, url, result)
        return result

    async def _parse_feed(self, body: bytes, url: str, headers: Mapping[str, str]) -> feeds.Feed:
        try:
            return await self.pool.run(feeds.parse, body, url, headers.get("content-type"))
        except ExtractError as exc:  # the worker process parsing it died
            raise ParseError(str(exc)) from exc

    def _queue_entries(
        self, source: SourceSettings, feed_url: str, parsed: feeds.Feed, outcome: SourceOutcome
    ) -> None:
        items: dict[str, Discovered] = {}
        for entry in parsed.entries:
            aid = article_id(entry.url, source.profile)
            if aid not in items:  # duplicate guids / the same ID under two slugs: first wins
                items[aid] = Discovered(
                    aid, entry.url, feed_url, _entry_json(entry), fingerprint(entry)
                )
        new, requeued = self.state.discover(source.name, items.values(), self.now())
        outcome.discovered += new + requeued
        self.pool.want(new + requeued)  # started now, they parse the other feeds too
        log.info(
            "feed_parsed",
            extra={
                "source": source.name,
                "feed_url": feed_url,
                "entries": len(parsed.entries),
                "new": new,
                "requeued": requeued,
            },
        )

    async def process_due(
        self,
        source: SourceSettings,
        outcome: SourceOutcome,
        explicit: Sequence[str] = (),
        due_by: float | None = None,
    ) -> None:
        """Fetch and archive every queued article of the source whose time has come (by
        ``due_by``: a poll passes its start, so what fails during it waits for the next one)."""
        now = self.now()
        items = self.state.claim_due(source.name, now, self.owner, LEASE_SECONDS, due_by=due_by)
        if explicit:
            claimed = {item.id for item in items}
            extra = [i for i in explicit if i not in claimed]
            items += self.state.claim_due(source.name, now, self.owner, LEASE_SECONDS, ids=extra)
        if self.observer and items:
            self.observer.articles_claimed(source.name, len(items))
        self.pool.want(len(items))
        try:
            await asyncio.gather(*(self._process_one(source, item, outcome) for item in items))
        finally:
            self.flush()

    async def _process_one(
        self, source: SourceSettings, item: QueueItem, outcome: SourceOutcome
    ) -> None:
        result, reason = "failed", None
        if self.draining:
            self.state.release(source.name, item.id, self.owner)
            return
        try:
            result = await self.archive_article(source, item)
        except (FetchError, ExtractError, ArchiveError) as exc:
            reason = getattr(exc, "reason", type(exc).__name__)
            result = self._failed(source, item, exc)
            outcome.errors.append(f"{item.url}: {exc}")
            if isinstance(exc, ArchiveError):
                outcome.archive_errors.append(str(exc))
        except Exception as exc:
            # A bug or a page nobody foresaw: one article must never stop the others.
            log.exception(
                "article_crashed",
                extra={"source": source.name, "article_id": item.id, "url": item.url},
            )
            reason = "internal_error"
            result = self._failed(source, item, ExtractError(f"internal error: {exc!r}"))
            outcome.errors.append(f"{item.url}: internal error: {exc!r}")
        finally:
            if result == "failed" and reason is None:
                # Cancelled (shutdown) or an unexpected error: leave it queued for the next run.
                self.state.release(source.name, item.id, self.owner)
        if result.startswith("warn:"):
            outcome.warnings += 1
            result = result[5:]
        outcome.articles[result] += 1
        if self.observer:
            self.observer.article_done(source.name, result, reason)

    def _failed(self, source: SourceSettings, item: QueueItem, exc: Exception) -> str:
        retry = self.settings.retry
        attempts = item.attempts + 1
        give_up = isinstance(exc, GoneError) or (
            isinstance(exc, FetchError)
            and not isinstance(exc, TransientFetchError)
            and exc.reason in GIVE_UP_REASONS
        )
        # The archive failing (disk full) is not the article's fault: never give up for it.
        give_up = give_up or (attempts >= retry.give_up_after and not isinstance(exc, ArchiveError))
        delay = backoff(attempts, retry.requeue_delay, retry.requeue_max_delay)
        if isinstance(exc, TransientFetchError) and exc.retry_after:
            delay = max(delay, exc.retry_after)
        delay *= 1 + random.uniform(0, 0.1)
        reason = getattr(exc, "reason", type(exc).__name__)
        self.state.failed(
            source.name,
            item.id,
            error=f"{reason}: {exc}",
            next_try_at=self.now() + delay,
            give_up=give_up,
        )
        log.warning(
            "article_given_up" if give_up else "article_failed",
            extra={
                "source": source.name,
                "article_id": item.id,
                "url": item.url,
                "reason": reason,
                "error": str(exc),
                "attempts": attempts,
                "retry_in_s": None if give_up else round(delay),
            },
        )
        return "gone" if give_up else "failed"

    async def archive_article(self, source: SourceSettings, item: QueueItem) -> str:
        """Fetch, extract and archive one article. Returns new / updated / unchanged."""
        async with self._in_hand:
            return await self._archive_article(source, item)

    async def _archive_article(self, source: SourceSettings, item: QueueItem) -> str:
        started = time.monotonic()
        response = await self.fetcher.get(item.url)
        if not response.body or response.body.isspace():
            raise TransientFetchError(
                f"{item.url}: empty body (HTTP {response.status})",
                reason="empty_body",
                status=response.status,
            )
        job = PageJob(
            body=response.body,
            requested_url=item.url,
            final_url=response.url,
            status=response.status,
            content_type=response.headers.get("content-type"),
            profile=source.profile,
            source=source.name,
            article_id=item.id,
            entry=entry_from_json(item.entry),
            feed_url=item.feed_url,
            first_seen=item.first_seen,
            path=item.path,
            archive_root=str(self.archive.root),
            keep_raw=self.archive.keep_raw,
        )
        done = await self.pool.archive(job)
        # Recorded in batches (one transaction per 64, and at the end of every batch of work):
        # the file is on disk already; a crash before the flush costs a refetch found unchanged.
        self._archived.append((source.name, item.id, done.path, done.content_hash, done.revision))
        if len(self._archived) >= 64:
            self.flush()
        if self.observer:
            self.observer.article_extracted(
                source.name, source.profile, done.method, done.fallbacks, len(done.warnings)
            )
        warned = any(w.startswith(NO_MATCH) for w in done.warnings)
        log.log(
            logging.WARNING if warned else logging.INFO,
            "article_archived",
            extra={
                "source": source.name,
                "article_id": item.id,
                "outcome": done.outcome,
                "path": done.path,
                "revision": done.revision,
                "method": done.method,
                "fallbacks": list(done.fallbacks),
                "warnings": list(done.warnings),
                "elapsed_ms": round((time.monotonic() - started) * 1000),
            },
        )
        return f"warn:{done.outcome}" if done.warnings else done.outcome

    def reap_pool(self, idle: float = POOL_IDLE) -> None:
        self.pool.reap(idle)

    def flush(self) -> None:
        """Record the archived articles not yet recorded in state."""
        rows, self._archived = self._archived, []
        if rows:
            self.state.archived_many(rows, self.now())

    def close(self) -> None:
        self.flush()
        self.pool.close()
