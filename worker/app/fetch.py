"""``news-worker fetch``: one poll of the chosen sources, a summary per source, the exit code.

The service (``worker.app.service``) polls through the same pipeline function.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

import orjson

from worker.app.runs import choose_sources, one_run
from worker.config import Settings
from worker.ingest.outcomes import SourceOutcome


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
