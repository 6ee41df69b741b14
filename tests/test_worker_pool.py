"""The worker processes: started for big polls only, stopped again when idle; work runs in a
thread without them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from worker.errors import ExtractError
from worker.ingest.pool import MAX_BATCH, POOL_BATCH, WorkerPool
from worker.ingest.work import PageJob, archive_pages
from worker.parse import feeds
from worker.store.interfaces import ArchiveSpec

FEEDS = Path(__file__).parent / "fixtures" / "feeds"


def _wait_ready(pool: WorkerPool) -> None:
    deadline = time.monotonic() + 60
    while not pool.ready and time.monotonic() < deadline:
        time.sleep(0.05)  # until the processes have started, work still runs in the thread
    assert pool.ready


def test_pool_starts_for_big_batches_and_stops_when_idle() -> None:
    pool = WorkerPool(1)
    pool.want(POOL_BATCH - 1)
    assert not pool.running  # a small poll stays in threads
    assert asyncio.run(pool.run(os.getpid)) == os.getpid()
    pool.want(POOL_BATCH)
    assert pool.running
    _wait_ready(pool)
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
    _wait_ready(pool)
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
    _wait_ready(pool)
    with pytest.raises(ExtractError, match="worker process died"):
        asyncio.run(pool.run(os._exit, 3))
    assert not pool.running  # the broken pool is dropped
    pool.want(POOL_BATCH)
    assert pool.running
    _wait_ready(pool)
    assert asyncio.run(pool.run(os.getpid)) != os.getpid()
    pool.close()


SITE = Path(__file__).parent / "fixtures" / "moscowtimes" / "site"


def _jobs(root: Path, count: int) -> list[PageJob]:
    pages = sorted(SITE.rglob("*-a*.html"))
    jobs = []
    for n in range(count):
        page = pages[n % len(pages)]
        url = "https://www.themoscowtimes.com/" + page.relative_to(SITE).as_posix()[: -len(".html")]
        body = page.read_bytes() if n != 3 else b"<div>" * 5000  # refused: too deep
        jobs.append(
            PageJob(
                body=body,
                requested_url=url,
                final_url=url,
                status=200,
                content_type="text/html; charset=utf-8",
                profile="moscowtimes",
                source="mt",
                article_id=f"a{n}",
                entry=None,
                feed_url=None,
                first_seen=1735000000.0,
                path=None,
                archive=ArchiveSpec(str(root), keep_raw=True),
            )
        )
    return jobs


def test_a_batch_of_pages_keeps_each_outcome_its_own(tmp_path: Path) -> None:
    outcomes = archive_pages(_jobs(tmp_path, 6))
    assert [type(o).__name__ for o in outcomes] == ["PageDone"] * 3 + ["ExtractError"] + [
        "PageDone"
    ] * 2
    written = sorted(p.name for p in tmp_path.rglob("*.json"))
    assert written == sorted(f"a{n}.json" for n in (0, 1, 2, 4, 5))


def test_pages_go_to_the_processes_in_batches(tmp_path: Path) -> None:
    pool = WorkerPool(2)
    pool.want(POOL_BATCH)
    sent: list[int] = []
    run = pool._in_process

    async def counting_run(function: Any, *args: Any) -> Any:
        if function is archive_pages:
            sent.append(len(args[0]))
        return await run(function, *args)

    pool._in_process = counting_run  # type: ignore[method-assign]

    async def scenario() -> list[object]:
        jobs = _jobs(tmp_path, 40)
        return await asyncio.gather(*(pool.archive(job) for job in jobs), return_exceptions=True)

    try:
        outcomes = asyncio.run(scenario())
    finally:
        pool.close()
    assert [type(o).__name__ for o in outcomes].count("ExtractError") == 1
    assert len(list(tmp_path.rglob("*.json"))) == 39
    assert sum(sent) == 40
    assert max(sent) > 1 and len(sent) < 40  # pages waited and left together
    assert max(sent) <= MAX_BATCH


PROBE = (
    "import sys\n\n\ndef loaded(name):\n    return name in sys.modules\n\n\n"
    "def main_ran():\n    return hasattr(sys.modules['__mp_main__'], 'MARKER')\n"
)
SCRIPT = """
import asyncio
import probe
{import_cli}
from worker.ingest.pool import POOL_BATCH, WorkerPool

MARKER = "this script ran as a module of the worker process"

if __name__ == "__main__":
    pool = WorkerPool(1)
    pool.want(POOL_BATCH)
    print(asyncio.run(pool._in_process(probe.loaded, "worker.cli")))
    print(asyncio.run(pool._in_process(probe.main_ran)))
    pool.close()
"""


@pytest.mark.parametrize(
    ("import_cli", "expected"),
    [
        ("from worker.app.cli import main  # as pip's console script does", "False\nFalse\n"),
        ("", "False\nTrue\n"),  # a program embedding news-worker: its main module as usual
    ],
    ids=["news-worker script", "embedding program"],
)
def test_worker_processes_do_not_import_the_cli_again(
    tmp_path: Path, import_cli: str, expected: str
) -> None:
    (tmp_path / "probe.py").write_text(PROBE)
    script = tmp_path / "script.py"
    script.write_text(SCRIPT.format(import_cli=import_cli))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
