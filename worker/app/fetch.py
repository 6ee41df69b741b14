"""``news-worker fetch``: one poll of the chosen sources, a summary per source, the exit code.

The service (``worker.app.service``) polls through the same pipeline function.

The exit code tells the truth: 1 when a feed or an article failed, and also when a run archived
nothing while articles stay queued because the archive or the state refused them last time (a
cron job must not see success while nothing can be written). ``--list`` polls the feeds (what is
new is queued, as by any poll, so nothing is lost) and prints the URLs a fetch would now take.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence

import orjson

from worker.app.runs import choose_sources, covers, one_run
from worker.config import Settings
from worker.errors import ConfigError
from worker.ingest.outcomes import SourceOutcome
from worker.ingest.pipeline import Pipeline

# Reasons of a last failure that mean the article waits on our own storage, not on the site.
STORAGE_REASONS = ("archive_error", "state_error")
LIST_ALL = 100_000


def feeds_part(outcome: SourceOutcome) -> str:
    f = outcome.feeds
    polled = f["changed"] + f["not_modified"] + f["failed"]
    failed = f", {f['failed']} failed" if f["failed"] else ""
    return f"{polled} feed{'s' * (polled != 1)}{failed}"


def summary_line(outcome: SourceOutcome) -> str:
    """One line per source within 100 columns: zeros are left out but for ``new`` and
    ``queued``; where every count is large the feeds and warnings go to a second, indented line.
    The detail is in ``news-worker status``."""
    a = outcome.articles
    parts = [f"{a['new']} new"]
    parts += [f"{a[k]} {k}" for k in ("updated", "unchanged") if a[k]]
    if a["failed"] or a["gone"]:
        gone = f" ({a['gone']} given up)" if a["gone"] else ""
        parts.append(f"{a['failed'] + a['gone']} failed{gone}")
    parts.append(f"{outcome.queued} queued")
    rest = [feeds_part(outcome)] + ([f"{outcome.warnings} warnings"] if outcome.warnings else [])
    line = f"{outcome.source}: {', '.join(parts)}"
    if len(f"{line}; {'; '.join(rest)}") <= 100:
        return f"{line}; {'; '.join(rest)}"
    return f"{line}\n  {'; '.join(rest)}"


def named_reasons(reasons: dict[str, int]) -> dict[str, int]:
    """Reasons as ``status --json`` shows them: "new" for articles not tried yet."""
    return {(k or "new"): v for k, v in sorted(reasons.items())}


async def waiting_on_storage(pipeline: Pipeline, outcome: SourceOutcome) -> dict[str, int]:
    """Why the source's queued articles wait; an error on the outcome when nothing was
    archived and some wait because the archive or the state refused them."""
    if not outcome.queued:
        return {}
    reasons = await pipeline.state.queue_reasons(outcome.source)
    blocked = sum(reasons.get(r, 0) for r in STORAGE_REASONS)
    archived = outcome.articles["new"] + outcome.articles["updated"] + outcome.articles["unchanged"]
    if blocked and not archived:
        which = ", ".join(r for r in STORAGE_REASONS if reasons.get(r))
        outcome.errors.append(
            f"{blocked} queued articles wait on the archive or the state (last failure: "
            f"{which}) and nothing was archived; see news-worker status --json"
        )
    return reasons


async def fetch(
    settings: Settings,
    *,
    sources: Sequence[str] = (),
    feeds: Sequence[str] = (),
    urls: Sequence[str] = (),
    progress: bool = False,
    json_summary: bool = False,
    list_only: bool = False,
    limit: int | None = None,
) -> int:
    """One poll of the chosen sources. Returns the exit code."""
    if list_only and urls:
        raise ConfigError(
            "--list with --url: the pages named are fetched, there is nothing to list"
        )
    chosen = choose_sources(settings, sources, feeds, urls)
    reasons: dict[str, dict[str, int]] = {}
    listed: dict[str, list[str]] = {}
    async with one_run(
        settings, progress=progress and not list_only, sources=chosen, limit=limit
    ) as (pipeline, _):
        outcomes = await asyncio.gather(
            *(
                pipeline.poll(
                    source,
                    feed_urls=list(feeds) if feeds else None,
                    article_urls=urls if sources else [u for u in urls if covers(source, u)],
                    poll_feeds=not (urls and not feeds),
                    fetch_articles=not list_only,
                )
                for source in chosen
            )
        )
        for outcome in outcomes:
            if list_only:
                listed[outcome.source] = await pipeline.state.due_urls(
                    outcome.source, time.time(), limit or LIST_ALL
                )
            else:
                reasons[outcome.source] = await waiting_on_storage(pipeline, outcome)
    failed = any(o.failed or o.errors for o in outcomes)
    if list_only:
        for outcome in outcomes:
            for url in listed[outcome.source]:
                print(url)
            print(
                f"{outcome.source}: {len(listed[outcome.source])} articles to fetch; "
                f"{feeds_part(outcome)}",
                file=sys.stderr,
            )
    elif json_summary:
        line = {
            "event": "summary",
            "sources": [
                {**o.as_dict(), "queued_by_reason": named_reasons(reasons.get(o.source, {}))}
                for o in outcomes
            ],
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
