"""The heavy half of archiving one page: extract, normalize, compress and write (with its
fsyncs). Runs away from the event loop: in worker processes when a poll brings many articles
(they use the other cores and overlap their fsyncs, and the loop keeps the GIL for fetching),
in a thread otherwise.

Everything a job needs travels in it (plain, picklable values); what comes back is what the
pipeline records in state and logs.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from worker.archive import Archive
from worker.extract import extract
from worker.feeds import FeedEntry
from worker.record import FetchInfo, build


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
    archive_root: str
    keep_raw: bool


@dataclass(frozen=True)
class PageDone:
    outcome: str  # new, updated or unchanged
    path: str
    revision: int
    content_hash: str
    method: str
    fallbacks: tuple[str, ...]
    warnings: tuple[str, ...]


_archives: dict[tuple[str, bool], Archive] = {}


def archive_page(job: PageJob) -> PageDone:
    """Extract the page, build its record and write it. Raises ExtractError / ArchiveError."""
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
    )
    record = build(
        extracted, article_id=job.article_id, source=job.source, profile=job.profile, fetch=info
    )
    archive = _archives.get((job.archive_root, job.keep_raw))
    if archive is None:
        archive = _archives[(job.archive_root, job.keep_raw)] = Archive(
            Path(job.archive_root), keep_raw=job.keep_raw
        )
    relative = job.path or Archive.relative_path(
        job.source,
        job.article_id,
        record["published_at"],
        datetime.fromtimestamp(job.first_seen, UTC),
    )
    written = archive.write(record, relative, job.body)
    return PageDone(
        outcome=written.outcome,
        path=written.path,
        revision=written.revision,
        content_hash=record["content_hash"],
        method=extracted.method,
        fallbacks=extracted.fallbacks,
        warnings=extracted.warnings,
    )


def init_worker(parent: int) -> None:
    """Worker process initializer. SIGINT/SIGTERM are for the main process, which drains and
    then shuts the pool down (a Ctrl-C reaches the whole process group; so may a supervisor's
    SIGTERM). A worker must not outlive its parent: after a kill -9 of the parent its job queue
    never reports end of file (every worker holds a copy of the writing end), so a watchdog
    thread exits when the parent is gone. A write cut short leaves only a temporary file, which
    the next start removes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.getppid() != parent:  # the parent died while this worker was starting
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def warm_up() -> bool:
    """Run in a new worker process at start, so its imports happen while feeds are fetched."""
    return True
