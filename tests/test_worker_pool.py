"""The worker processes: started for big polls only, stopped again when idle; work runs in a
thread without them."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from worker import feeds
from worker.errors import ExtractError
from worker.pool import POOL_BATCH, WorkerPool

FEEDS = Path(__file__).parent / "fixtures" / "feeds"


def test_pool_starts_for_big_batches_and_stops_when_idle() -> None:
    pool = WorkerPool(1)
    pool.want(POOL_BATCH - 1)
    assert not pool.running  # a small poll stays in threads
    assert asyncio.run(pool.run(os.getpid)) == os.getpid()
    pool.want(POOL_BATCH)
    assert pool.running
    assert asyncio.run(pool.run(os.getpid)) != os.getpid()  # now in a worker process
    pool.reap(idle=3600)
    assert pool.running  # recently used: kept
    pool._used -= 7200
    pool.reap(idle=3600)
    assert not pool.running
    pool.close()


def test_no_pool_when_processes_is_zero() -> None:
    pool = WorkerPool(0)
    pool.want(10_000)
    assert not pool.running
    pool.close()


def test_a_feed_parses_the_same_in_a_worker_process() -> None:
    body = next(iter(sorted(FEEDS.glob("*.xml")))).read_bytes()
    in_thread = feeds.parse(body, "https://example.org/feed", "application/rss+xml")
    pool = WorkerPool(1)
    pool.want(POOL_BATCH)
    try:
        in_worker = asyncio.run(
            pool.run(feeds.parse, body, "https://example.org/feed", "application/rss+xml")
        )
    finally:
        pool.close()
    assert in_worker == in_thread and in_worker.entries


def test_a_dead_worker_is_an_error_and_the_pool_starts_again_later() -> None:
    pool = WorkerPool(1)
    pool.want(POOL_BATCH)
    with pytest.raises(ExtractError, match="worker process died"):
        asyncio.run(pool.run(os._exit, 3))
    assert not pool.running  # the broken pool is dropped
    pool.want(POOL_BATCH)
    assert pool.running
    assert asyncio.run(pool.run(sum, [1, 2])) == 3
    pool.close()
