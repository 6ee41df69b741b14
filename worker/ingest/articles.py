"""Archiving the articles of a source whose time has come: claim them (a lease each), fetch each
page, extract and write it (in the worker pool), record the outcome in state. Every article ends
as an outcome value; one bad page never stops the others.

Leases last ``state.lease_ttl`` and are renewed by a heartbeat while their articles are worked
on, however long that takes; every write that ends one names it, and a write whose lease was
lost (this process stalled past the time-to-live, and another took the article over) is refused
by the state, logged and counted, leaving the other owner's work alone.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from worker.config import SourceSettings
from worker.errors import ArchiveError, ExtractError, FetchError, TransientFetchError, WorkerError
from worker.ingest import captures
from worker.ingest.context import Context
from worker.ingest.entries import entry_from_json
from worker.ingest.inhand import PagesInHand
from worker.ingest.lanes import Lanes
from worker.ingest.outcomes import ArticleOutcome, SourceOutcome
from worker.ingest.policy import after_failure
from worker.ingest.work import PageDone, PageJob
from worker.model import NO_MATCH
from worker.net.fetcher import Response
from worker.store.interfaces import Archived, Lease, QueueItem, WriteOutcome

log = logging.getLogger(__name__)

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
        self._in_hand = PagesInHand(context.fetcher)
        self._archived: list[Archived] = []
        self._held: dict[tuple[str, str], Lease] = {}  # claimed, outcome not yet recorded
        self._heartbeat: asyncio.Task[None] | None = None
        # A few of each host's articles under way at a time (worker.ingest.lanes).
        self._lanes = Lanes(context.settings.http.per_host_concurrency + 1)

    @property
    def ttl(self) -> float:
        return self.context.settings.state.lease_ttl

    def _hold(self, items: list[QueueItem]) -> None:
        for item in items:
            self._held[(item.source, item.id)] = item.lease
        if items and (self._heartbeat is None or self._heartbeat.done()):
            self._heartbeat = asyncio.get_running_loop().create_task(self._renew_leases())

    def _let_go(self, lease: Lease) -> None:
        if self._held.get((lease.source, lease.id)) == lease:
            del self._held[(lease.source, lease.id)]

    async def _renew_leases(self) -> None:
        """Renew every held lease each third of its time-to-live, while any is held."""
        while self._held:
            await asyncio.sleep(self.ttl / 3)
            held = list(self._held.values())
            if not held:
                break
            try:
                lost = await self.context.state.renew(held, self.context.now(), self.ttl)
            except WorkerError as exc:  # the state is unreachable: try again next beat
                log.warning("lease_renewal_failed", extra={"reason": exc.reason, "error": str(exc)})
                continue
            for lease in lost:
                self._let_go(lease)
                self._lost(lease, "renewal")

    def _lost(self, lease: Lease, at: str) -> None:
        log.warning(
            "lease_lost",
            extra={"source": lease.source, "article_id": lease.id, "lease": lease.token, "at": at},
        )
        if self.context.observer:
            self.context.observer.lease_lost(lease.source)

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
        budget = 10_000
        if context.limit is not None:
            budget = context.limit - context.taken[source.name]
        items: list[QueueItem] = []
        if budget > 0:
            # Counted before the claim returns: the source's feeds are read concurrently, and
            # each one's claim must see what the others took.
            context.taken[source.name] += budget
            try:
                items = await claim(
                    source.name, now, context.owner, self.ttl, limit=budget, due_by=due_by
                )
            finally:
                context.taken[source.name] -= budget - len(items)
        if explicit:
            claimed = {item.id for item in items}
            extra = [i for i in explicit if i not in claimed]
            items += await claim(source.name, now, context.owner, self.ttl, ids=extra)
        self._hold(items)
        if context.observer and items:
            context.observer.articles_claimed(source.name, len(items))
        context.pool.want(len(items))
        try:
            await self._lanes.run_all(
                [
                    (
                        urlsplit(item.url).netloc.lower(),
                        functools.partial(self._process_one, source, item, outcome),
                    )
                    for item in items
                ]
            )
        finally:
            await self.flush()

    async def _process_one(
        self,
        source: SourceSettings,
        item: QueueItem,
        outcome: SourceOutcome,
        in_hand: asyncio.Future[None],
    ) -> None:
        context = self.context
        result: ArticleOutcome = "failed"
        reason: str | None = None
        if context.draining:
            await self._release(item)
            return
        try:
            written = await self._archive(source, item, in_hand)
            result = written.outcome
            outcome.warnings += written.warned
        except (FetchError, ExtractError, ArchiveError) as exc:
            reason = exc.reason
            result = await self._failed(source, item, exc)
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
            result = await self._failed(source, item, failure)
            outcome.errors.append(f"{item.url}: internal error: {exc!r}")
        finally:
            if result == "failed" and reason is None:
                # Cancelled (shutdown) or an unexpected error: leave it queued for the next run.
                await asyncio.shield(self._release(item))
        outcome.articles[result] += 1
        if context.observer:
            context.observer.article_done(source.name, result, reason)

    async def _release(self, item: QueueItem) -> None:
        self._let_go(item.lease)
        if not await self.context.state.release(item.lease):
            self._lost(item.lease, "release")

    async def _failed(
        self, source: SourceSettings, item: QueueItem, exc: WorkerError
    ) -> ArticleOutcome:
        context = self.context
        attempts = item.attempts + 1
        verdict = after_failure(exc, attempts, context.settings.retry)
        self._let_go(item.lease)
        recorded = await context.state.failed(
            item.lease,
            error=f"{exc.reason}: {exc}"[:MAX_ERROR],
            next_try_at=context.now() + verdict.delay,
            give_up=verdict.give_up,
        )
        if not recorded:
            self._lost(item.lease, "failed")
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

    async def _archive(
        self, source: SourceSettings, item: QueueItem, in_hand: asyncio.Future[None]
    ) -> Written:
        """Fetch, extract and archive one article; ``in_hand`` is settled once its page is."""
        context = self.context
        started = time.monotonic()
        response = await context.fetcher.get(item.url, proxy=source.proxy)
        if not in_hand.done():
            in_hand.set_result(None)
        with self._in_hand.holding(len(response.body)):
            done = await self._write(source, item, response)
        # Recorded in batches (one transaction per RECORD_EVERY, and at the end of every batch
        # of work): the file is in the archive already; a crash before the flush costs a
        # refetch found unchanged.
        self._archived.append(
            Archived(source.name, item.id, done.path, done.content_hash, done.revision, item.token)
        )
        if len(self._archived) >= RECORD_EVERY:
            await self.flush()
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

    async def _write(self, source: SourceSettings, item: QueueItem, response: Response) -> PageDone:
        """Extract and write a fetched page (in the worker pool)."""
        if not response.body or response.body.isspace():
            raise TransientFetchError(
                f"{item.url}: empty body (HTTP {response.status})",
                reason="empty_body",
                status=response.status,
            )
        context = self.context
        capture = await captures.keep(context, response)
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
            warc=capture.as_dict() if capture is not None else None,
        )
        done = await context.pool.archive(job)
        if capture is not None:
            await captures.note(context, capture, item, done)
        return done

    async def flush(self) -> None:
        """Record the archived articles not yet recorded in state."""
        rows, self._archived = self._archived, []
        if not rows:
            return
        refused = await self.context.state.archived_many(rows, self.context.now())
        for row in rows:
            self._let_go(row.lease)
        for row in refused:
            self._lost(row.lease, "archived")

    async def close(self) -> None:
        await self._lanes.close()
        await self.flush()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
