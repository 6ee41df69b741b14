"""``news-worker backfill``: queue a date range from the source's sitemaps and archive it."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

import orjson

from worker.app.fetch import named_reasons, summary_line, waiting_on_storage
from worker.app.runs import one_run, parse_day
from worker.config import Settings
from worker.errors import ConfigError
from worker.ingest.backfill import Backfill, DateRange


async def backfill(
    settings: Settings,
    *,
    source_name: str,
    since: str,
    until: str | None,
    progress: bool = False,
    json_summary: bool = False,
) -> int:
    """Queue a date range from the source's sitemaps and archive it. Returns the exit code."""
    source = settings.source(source_name)
    if not source.sitemap:
        raise ConfigError(f"sources.{source.name}.sitemap: not set; backfill reads the sitemap")
    wanted = DateRange(
        parse_day("--since", since),
        parse_day("--until", until) if until else datetime.now(UTC).date(),
    )
    if wanted.since > wanted.until:
        raise ConfigError(f"--since {since} is after --until {wanted.until.isoformat()}")
    async with one_run(settings, progress=progress, sources=[source]) as (pipeline, display):

        def on_file(url: str, new: int) -> None:
            if display is not None:
                display.sitemaps += 1
                display.feed_done(source.name, url, "changed")

        walk = Backfill(
            source,
            wanted,
            pipeline.fetcher,
            pipeline.state,
            time.time,
            on_file,
            parse=pipeline.parse_sitemap,
            limits=settings.backfill,
        )
        found = await walk.run()
        outcome = await pipeline.poll(source, poll_feeds=False)
        reasons = await waiting_on_storage(pipeline, outcome)
    failed = bool(found.files_failed or found.files_over_limit or outcome.failed or outcome.errors)
    report = {
        "event": "backfill_summary",
        "source": source.name,
        "since": wanted.since.isoformat(),
        "until": wanted.until.isoformat(),
        "sitemaps_read": found.files_read,
        "sitemaps_already_done": found.files_skipped_done,
        "sitemaps_out_of_range": found.files_out_of_range,
        "sitemaps_failed": found.files_failed,
        "sitemaps_too_deep": found.files_too_deep,
        "sitemaps_over_limit": found.files_over_limit,
        "articles_in_range": found.in_range,
        "articles_queued": found.queued,
        "undated_skipped": found.undated_skipped,
        **outcome.as_dict(),
        "errors": (found.errors + outcome.errors)[:10],
        "queued_by_reason": named_reasons(reasons),
        "exit_code": int(failed),
    }
    if json_summary:
        print(orjson.dumps(report).decode(), flush=True)
    else:
        print(
            f"{source.name} {wanted.since}..{wanted.until}: sitemaps {found.files_read} read, "
            f"{found.files_skipped_done} done before, {found.files_failed} failed"
            + (f", {found.files_too_deep} too deep" if found.files_too_deep else "")
            + (f", {found.files_over_limit} over the limit" if found.files_over_limit else "")
            + f"; {found.in_range} in range, {found.queued} new"
        )
        print(summary_line(outcome))
        for error in (found.errors + outcome.errors)[:10]:
            print(f"  error: {error}", file=sys.stderr)
    return 1 if failed else 0
