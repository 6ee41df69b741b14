"""Polling one feed: a conditional GET, the body parsed (in a worker process when they run),
its entries queued (new ones, and archived ones whose entry changed), the next poll scheduled
from the interval, Cache-Control, an honoured ttl or the failure backoff."""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Mapping

from worker.config import SourceSettings
from worker.errors import ExtractError, FetchError, ParseError, TransientFetchError
from worker.extract.registry import article_id
from worker.ingest.context import Context
from worker.ingest.entries import entry_to_json, fingerprint
from worker.ingest.outcomes import FeedOutcome, SourceOutcome
from worker.net.headers import cache_max_age, conditional_headers, next_poll, validators
from worker.parse import feeds
from worker.store.interfaces import Discovered

log = logging.getLogger(__name__)


async def poll_feed(
    context: Context, source: SourceSettings, url: str, outcome: SourceOutcome
) -> FeedOutcome:
    """Fetch and parse one feed, queue its new entries. Returns the feed outcome."""
    state = context.state
    known = await state.feed(url)
    sent = conditional_headers(known.etag, known.last_modified)
    now = context.now()
    service = context.settings.service
    result: FeedOutcome = "failed"
    try:
        response = await context.fetcher.get(url, headers=sent, proxy=source.proxy, kind="feed")
        if response.not_modified and not sent:
            raise ParseError("HTTP 304 to a request without validators")
        etag, last_modified = validators(response.headers)
        body_hash = ttl = None
        result = "not_modified"
        if not response.not_modified:
            body_hash = hashlib.sha256(response.body).hexdigest()
            if body_hash != known.body_hash:
                if known.body_hash is None:
                    # Read for the first time: every entry is new. Start the processes now if
                    # there are many, while the feed is parsed.
                    context.pool.want(feeds.entry_estimate(response.body))
                parsed = await _parse(context, response.body, response.url, response.headers)
                await _queue_entries(context, source, url, parsed, outcome)
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
        due = _jittered(
            now,
            context,
            next_poll(
                now,
                source.interval,
                ok=True,
                max_age=cache_max_age(response.headers),
                ttl_minutes=ttl or known.ttl_minutes,
                honour_ttl=source.honour_ttl,
                max_interval=service.max_interval,
            ),
        )
        await state.feed_polled(
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
        known_error = isinstance(exc, FetchError | ParseError)
        if not known_error:
            log.exception("feed_crashed", extra={"source": source.name, "feed_url": url})
        error = (str(exc) or repr(exc))[:2000]  # what the state keeps of it
        due = _jittered(
            now,
            context,
            next_poll(
                now,
                source.interval,
                ok=False,
                failures=known.consecutive_failures + 1,
                retry_after=exc.retry_after if isinstance(exc, TransientFetchError) else None,
                failure_cap=service.failure_backoff_max,
            ),
        )
        await state.feed_polled(
            url, source.name, now=now, outcome="failed", ok=False, error=error, next_poll_at=due
        )
        log.warning(
            "feed_failed",
            extra={
                "source": source.name,
                "feed_url": url,
                "reason": exc.reason
                if isinstance(exc, FetchError | ParseError)
                else "internal_error",
                "error": error,
                "failures": known.consecutive_failures + 1,
                "retry_in_s": round(due - now),
            },
        )
        outcome.errors.append(f"{url}: {error}")
    outcome.feeds[result] += 1
    if context.observer:
        context.observer.feed_done(source.name, url, result)
    return result


def _jittered(now: float, context: Context, due: float) -> float:
    """The next poll, later by up to ``service.jitter`` of the delay: feeds of one interval
    spread out instead of polling together."""
    return due + random.uniform(0, context.settings.service.jitter) * max(0.0, due - now)


async def _parse(context: Context, body: bytes, url: str, headers: Mapping[str, str]) -> feeds.Feed:
    try:
        return await context.pool.run(feeds.parse, body, url, headers.get("content-type"))
    except ExtractError as exc:  # past its budget, or the worker process parsing it died
        raise ParseError(str(exc), reason=exc.reason) from exc


async def _queue_entries(
    context: Context,
    source: SourceSettings,
    feed_url: str,
    parsed: feeds.Feed,
    outcome: SourceOutcome,
) -> None:
    items: dict[str, Discovered] = {}
    for entry in parsed.entries:
        aid = article_id(entry.url, source.profile)
        if aid not in items:  # duplicate guids / the same ID under two slugs: first wins
            items[aid] = Discovered(
                aid, entry.url, feed_url, entry_to_json(entry), fingerprint(entry)
            )
    new, requeued = await context.state.discover(source.name, items.values(), context.now())
    outcome.discovered += new + requeued
    context.pool.want(new + requeued)  # started now, they parse the other feeds too
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
