"""Archiving the articles of a source whose time has come: claim them (a lease each), fetch each
page, extract and write it (in the worker pool), record the outcome in state. Every article ends
as an outcome value; one bad page never stops the others."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from worker.config import SourceSettings
from worker.errors import ArchiveError, ExtractError, FetchError, TransientFetchError, WorkerError
from worker.ingest.context import Context
from worker.ingest.entries import entry_from_json
from worker.ingest.leases import LEASE_SECONDS
from worker.ingest.outcomes import ArticleOutcome, SourceOutcome
from worker.ingest.policy import after_failure
from worker.ingest.work import PageJob
from worker.model import NO_MATCH
from worker.store.interfaces import Archived, QueueItem, WriteOutcome

log = logging.getLogger(__name__)

# Pages fetched but not yet written wait in memory; fetching pauses beyond this many (about
# 15 MB of news pages), so a slow disk slows the downloads instead of filling memory.
PAGES_IN_HAND = 128
RECORD_EVERY = 64  # archived articles recorded in state per transaction
MAX_ERROR = 2000  # characters of an error the state keeps


@dataclass(frozen=True)
class Written:
    outcome: WriteOutcome
    warned: bool  # the extraction carried warnings


class Articles:
    """Fetches and archives due articles for the pipeline; shared by every poll of a run."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self._in_hand = asyncio.Semaphore(PAGES_IN_HAND)
        self._archived: list[Archived] = []

    async def process_due(
        self,
        source: SourceSettings,
        outcome: SourceOutcome,
        explicit: Sequence[str] = (),
        due_by: float | None = None,
    ) -> None:
        """Fetch and archive every queued article of the source whose time has come (by
        ``due_by``: a poll passes its start, so what fails during it waits for the next one)."""
        context = self.context
        now = context.now()
        claim = context.state.claim_due
        items = claim(source.name, now, context.owner, LEASE_SECONDS, due_by=due_by)
        if explicit:
            claimed = {item.id for item in items}
            extra = [i for i in explicit if i not in claimed]
            items += claim(source.name, now, context.owner, LEASE_SECONDS, ids=extra)
        if context.observer and items:
            context.observer.articles_claimed(source.name, len(items))
        context.pool.want(len(items))
        try:
            await asyncio.gather(*(self._process_one(source, item, outcome) for item in items))
        finally:
            self.flush()

    async def _process_one(
        self, source: SourceSettings, item: QueueItem, outcome: SourceOutcome
    ) -> None:
        context = self.context
        result: ArticleOutcome = "failed"
        reason: str | None = None
        if context.draining:
            context.state.release(source.name, item.id, context.owner)
            return
        try:
            async with self._in_hand:
                written = await self._archive(source, item)
            result = written.outcome
            outcome.warnings += written.warned
        except (FetchError, ExtractError, ArchiveError) as exc:
            reason = exc.reason
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
            failure = ExtractError(f"internal error: {exc!r}", reason=reason)
            result = self._failed(source, item, failure)
            outcome.errors.append(f"{item.url}: internal error: {exc!r}")
        finally:
            if result == "failed" and reason is None:
                # Cancelled (shutdown) or an unexpected error: leave it queued for the next run.
                context.state.release(source.name, item.id, context.owner)
        outcome.articles[result] += 1
        if context.observer:
            context.observer.article_done(source.name, result, reason)

    def _failed(self, source: SourceSettings, item: QueueItem, exc: WorkerError) -> ArticleOutcome:
        context = self.context
        attempts = item.attempts + 1
        verdict = after_failure(exc, attempts, context.settings.retry)
        context.state.failed(
            source.name,
            item.id,
            error=f"{exc.reason}: {exc}"[:MAX_ERROR],
            next_try_at=context.now() + verdict.delay,
            give_up=verdict.give_up,
        )
        log.warning(
            "article_given_up" if verdict.give_up else "article_failed",
            extra={
                "source": source.name,
                "article_id": item.id,
                "url": item.url,
                "reason": exc.reason,
                "error": str(exc),
                "attempts": attempts,
                "retry_in_s": None if verdict.give_up else round(verdict.delay),
            },
        )
        return "gone" if verdict.give_up else "failed"

    async def _archive(self, source: SourceSettings, item: QueueItem) -> Written:
        """Fetch, extract and archive one article."""
        context = self.context
        started = time.monotonic()
        response = await context.fetcher.get(item.url)
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
            archive=context.archive.spec,
        )
        done = await context.pool.archive(job)
        # Recorded in batches (one transaction per RECORD_EVERY, and at the end of every batch
        # of work): the file is in the archive already; a crash before the flush costs a
        # refetch found unchanged.
        self._archived.append(
            Archived(source.name, item.id, done.path, done.content_hash, done.revision)
        )
        if len(self._archived) >= RECORD_EVERY:
            self.flush()
        if context.observer:
            context.observer.article_extracted(
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
        return Written(done.outcome, bool(done.warnings))

    def flush(self) -> None:
        """Record the archived articles not yet recorded in state."""
        rows, self._archived = self._archived, []
        if rows:
            self.context.state.archived_many(rows, self.context.now())
