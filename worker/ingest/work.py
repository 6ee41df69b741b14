"""The heavy half of archiving one page: extract, normalize, compress and write (with its
fsyncs). Runs away from the event loop, in worker processes (:mod:`worker.ingest.pool`): they
use the other cores and overlap their fsyncs, the loop keeps the GIL for fetching, and a page
past its budget ends there.

Everything a job needs travels in it (plain, picklable values); what comes back is what the
pipeline records in state and logs.
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from worker.errors import WorkerError
from worker.extract import extract
from worker.model import Extracted
from worker.parse.feeds import FeedEntry
from worker.store import archive_from_spec, layout
from worker.store.interfaces import ArchiveSpec, WriteOutcome
from worker.store.record import FetchInfo, build


@dataclass(frozen=True)
class PageJob:
    body: bytes
    requested_url: str
    final_url: str
    status: int
    content_type: str | None
    profile: str
    source: str
    article_id: str
    entry: FeedEntry | None
    feed_url: str | None
    first_seen: float
    path: str | None  # where the article already lives, if archived before
    archive: ArchiveSpec
    warc: dict[str, Any] | None = None  # the fetch's WARC response record (archive.warc)


@dataclass(frozen=True)
class PageDone:
    outcome: WriteOutcome
    path: str
    revision: int
    content_hash: str
    method: str
    fallbacks: tuple[str, ...]
    warnings: tuple[str, ...]


def _as_is(index: int) -> AbstractContextManager[None]:
    return nullcontext()


def _record(job: PageJob) -> tuple[Extracted, dict[str, Any], str]:
    """Extract the page and build its record; where it goes. Raises ExtractError."""
    extracted = extract(
        job.body, job.final_url, job.profile, content_type=job.content_type, entry=job.entry
    )
    info = FetchInfo(
        requested_url=job.requested_url,
        final_url=job.final_url,
        status=job.status,
        content_type=job.content_type,
        fetched_at=datetime.now(UTC),
        feed_url=job.feed_url,
        raw_sha256=hashlib.sha256(job.body).hexdigest(),
        feed_entry=job.entry,
        warc=job.warc,
    )
    record = build(
        extracted, article_id=job.article_id, source=job.source, profile=job.profile, fetch=info
    )
    relative = job.path or layout.record_path(
        job.source,
        job.article_id,
        record["published_at"],
        datetime.fromtimestamp(job.first_seen, UTC),
    )
    return extracted, record, relative


def archive_pages(
    jobs: Sequence[PageJob], each: Callable[[int], AbstractContextManager[None]] | None = None
) -> list[PageDone | Exception]:
    """Extract the pages, build their records and write them in one commit (see
    :meth:`ArchiveStore.write_many`). Each page's outcome is its own: a PageDone, or the error that
    stopped it (an unexpected one carries its traceback as a note). ``each(i)`` is entered around
    the extraction of page ``i`` and ``each(len(jobs))`` around the writing (a worker process
    budgets them, :mod:`worker.ingest.budget`)."""
    each = each or _as_is
    outcomes: list[PageDone | Exception | None] = [None] * len(jobs)
    by_archive: dict[ArchiveSpec, list[tuple[int, Extracted, dict[str, Any], str]]] = {}
    for index, job in enumerate(jobs):
        try:
            with each(index):
                extracted, record, relative = _record(job)
        except Exception as exc:
            if not isinstance(exc, WorkerError):
                exc.add_note(traceback.format_exc())
            outcomes[index] = exc
            continue
        by_archive.setdefault(job.archive, []).append((index, extracted, record, relative))
    for spec, built in by_archive.items():
        with each(len(jobs)):
            written = archive_from_spec(spec).write_many(
                [(record, relative, jobs[index].body) for index, _, record, relative in built]
            )
        for (index, extracted, record, _), result in zip(built, written, strict=True):
            outcomes[index] = (
                result
                if isinstance(result, Exception)
                else PageDone(
                    outcome=result.outcome,
                    path=result.path,
                    revision=result.revision,
                    content_hash=record["content_hash"],
                    method=extracted.method,
                    fallbacks=extracted.fallbacks,
                    warnings=extracted.warnings,
                )
            )
    done = [outcome for outcome in outcomes if outcome is not None]
    assert len(done) == len(jobs)  # every page was either refused or written
    return done
