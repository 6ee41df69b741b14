"""What the stages of a poll share: settings, the two stores, the one fetcher, the worker pool,
the lease owner, the observer, the clock and the WARC writer."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from worker.config import Settings
from worker.ingest.leases import new_owner
from worker.ingest.outcomes import Observer
from worker.ingest.pool import WorkerPool
from worker.net.fetcher import Fetcher
from worker.store.captures import Captures
from worker.store.interfaces import ArchiveStore
from worker.store.offloop import AsyncState


@dataclass
class Context:
    settings: Settings
    state: AsyncState
    archive: ArchiveStore
    fetcher: Fetcher
    pool: WorkerPool
    observer: Observer | None = None
    owner: str = field(default_factory=new_owner)
    draining: bool = False  # set on shutdown: claimed articles not yet started stay queued
    captures: Captures | None = None  # the WARC writer (archive.warc)
    limit: int | None = None  # at most this many articles per source in this run (--limit)
    taken: Counter[str] = field(default_factory=Counter)  # articles claimed, per source

    @staticmethod
    def now() -> float:
        return time.time()
