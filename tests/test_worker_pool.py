"""The worker processes: one kept warm, more for big polls, stopped again when idle; every item
inside its CPU and memory budget, and a process past it replaced."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from worker.config import LimitSettings
from worker.errors import BudgetError, ExtractError
from worker.ingest.pool import MAX_BATCH, POOL_BATCH, WorkerPool
from worker.ingest.work import PageJob, archive_pages
from worker.parse import feeds
from worker.store.interfaces import ArchiveSpec

FEEDS = Path(__file__).parent / "fixtures" / "feeds"


def burn_cpu() -> int:
    """Pure computation that never ends by itself (only its CPU budget stops it)."""
    n = 0
    while True:
        n += 1


def grab_memory(megabytes: int) -> int:
    held = [bytearray(1_000_000) for _ in range(megabytes)]
    return len(held)


def test_one_process_is_warm_and_more_start_for_big_batches() -> None:
    pool = WorkerPool(2)
    try:
        pool.warm()
        assert pool.running == 1
        assert asyncio.run(pool.run(os.getpid)) != os.getpid()  # never in this process
        pool.want(POOL_BATCH - 1)
        assert pool.running == 1  # a small poll stays with the warm one
        pool.want(POOL_BATCH)
        assert pool.running == 2
        pool.reap(idle=3600)
        assert pool.running == 2  # recently used: kept
        pool._used -= 7200
        pool.reap(idle=3600)
        assert pool.running == 1  # the warm one stays
    finally:
        pool.close()
    assert pool.running == 0


def pause_then_pid(seconds: float) -> int:
    import time

    time.sleep(seconds)
    return os.getpid()


def test_a_backlog_of_small_items_starts_every_process() -> None:
    """Many small polls at once (400 feeds of 5 items) say ``want`` too little each; the items
    waiting for a process start the others, and once all run the rest wait (no spinning)."""

    async def burst(pool: WorkerPool, items: int) -> set[int]:
        return set(await asyncio.gather(*(pool.run(pause_then_pid, 0.01) for _ in range(items))))

    pool = WorkerPool(2)
    try:
        pool.warm()
        assert asyncio.run(burst(pool, POOL_BATCH - 2)) and pool.running == 1
        pids = asyncio.run(asyncio.wait_for(burst(pool, 3 * POOL_BATCH), 60))
        assert pool.running == 2 and len(pids) == 2
        assert asyncio.run(asyncio.wait_for(burst(pool, 3 * POOL_BATCH), 60)) == pids
    finally:
        pool.close()


def test_zero_processes_still_parse_in_a_process() -> None:
    pool = WorkerPool(0)
    try:
        pool.want(10_000)
        assert pool.processes == 1
        assert asyncio.run(pool.run(os.getpid)) != os.getpid()
    finally:
        pool.close()


def test_a_feed_parses_the_same_in_a_worker_process() -> None:
    body = next(iter(sorted(FEEDS.glob("*.xml")))).read_bytes()
    in_thread = feeds.parse(body, "https://example.org/feed", "application/rss+xml")
    pool = WorkerPool(1)
    try:
        in_worker = asyncio.run(
            pool.run(feeds.parse, body, "https://example.org/feed", "application/rss+xml")
        )
    finally:
        pool.close()
    assert in_worker == in_thread and in_worker.entries


def test_a_dead_worker_is_an_error_and_another_takes_its_place() -> None:
    pool = WorkerPool(1)
    try:
        with pytest.raises(ExtractError, match="worker process died") as died:
            asyncio.run(pool.run(os._exit, 3))
        assert died.value.reason == "worker_crashed"
        assert asyncio.run(pool.run(os.getpid)) != os.getpid()
        assert pool.started == 2
    finally:
        pool.close()


def test_an_item_past_its_cpu_budget_fails_with_the_budget_named() -> None:
    pool = WorkerPool(1, LimitSettings(cpu=1.0))
    try:
        with pytest.raises(BudgetError) as over:
            asyncio.run(pool.run(burn_cpu))
        assert over.value.reason == "cpu_budget" and "CPU budget of 1 s" in str(over.value)
        # The process was replaced, and the budget is per item, not per process: many short
        # items add up to more than one budget.
        for _ in range(3):
            asyncio.run(pool.run(sum, range(3_000_000)))
        assert asyncio.run(pool.run(os.getpid)) != os.getpid()
    finally:
        pool.close()


def test_an_item_past_its_memory_budget_fails_with_the_budget_named() -> None:
    pool = WorkerPool(1, LimitSettings(memory=64_000_000))
    try:
        with pytest.raises(BudgetError) as over:
            asyncio.run(pool.run(grab_memory, 500))
        assert over.value.reason == "memory_budget"
        assert asyncio.run(pool.run(grab_memory, 16)) == 16  # what fits still runs
    finally:
        pool.close()


def test_close_kills_a_busy_process_at_once() -> None:
    pool = WorkerPool(1)

    async def scenario() -> None:
        task = asyncio.ensure_future(pool.run(burn_cpu))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    [process] = pool._busy
    pool.close()
    assert process.process.exitcode is not None  # killed, not waited for
    assert pool.running == 0


SITE = Path(__file__).parent / "fixtures" / "moscowtimes" / "site"


def _jobs(root: Path, count: int) -> list[PageJob]:
    pages = sorted(SITE.rglob("*-a*.html"))
    jobs = []
    for n in range(count):
        page = pages[n % len(pages)]
        url = "https://www.themoscowtimes.com/" + page.relative_to(SITE).as_posix()[: -len(".html")]
        body = page.read_bytes() if n != 3 else b"<div>" * 5000  # refused: nothing on it
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


def paragraphs(megabytes: float) -> bytes:
    """A page of nothing but short paragraphs (28 words: under the cap on elements); trafilatura
    takes 12 s of CPU over 9.9 MB of them (its time grows faster than the size)."""
    words = " ".join(f"w{n}" for n in range(28))
    count = int(megabytes * 1_000_000 / (len(words) + 7))
    return (
        "<html><head><title>Paragraphs</title></head><body>" + f"<p>{words}</p>" * count
    ).encode() + b"</body></html>"


def test_a_page_past_its_budget_fails_alone_and_its_batch_is_written(tmp_path: Path) -> None:
    jobs = _jobs(tmp_path, 6)
    jobs[1] = dataclasses.replace(jobs[1], body=paragraphs(9.9), profile="generic")
    pool = WorkerPool(1, LimitSettings(cpu=1.0))
    try:
        outcomes = asyncio.run(pool._pages(jobs))
    finally:
        pool.close()
    kinds = [(type(o).__name__, getattr(o, "reason", None)) for o in outcomes]
    assert kinds == [
        ("PageDone", None),
        ("BudgetError", "cpu_budget"),
        ("PageDone", None),
        ("ExtractError", "extract_error"),
        ("PageDone", None),
        ("PageDone", None),
    ]
    written = sorted(p.name for p in tmp_path.rglob("*.json"))
    assert written == sorted(f"a{n}.json" for n in (0, 2, 4, 5))
    assert pool.started == 2  # the process past its budget was replaced once


def test_pages_go_to_the_processes_in_batches(tmp_path: Path) -> None:
    pool = WorkerPool(2)
    pool.want(POOL_BATCH)
    sent: list[int] = []
    exchange = pool._exchange

    async def counting(function: Any, args: Any, batched: bool) -> Any:
        if function is archive_pages:
            sent.append(len(args[0]))
        return await exchange(function, args, batched)

    pool._exchange = counting  # type: ignore[method-assign]

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
from worker.ingest.pool import WorkerPool

MARKER = "this script ran as a module of the worker process"

if __name__ == "__main__":
    pool = WorkerPool(1)
    print(asyncio.run(pool.run(probe.loaded, "worker.app.cli")))
    print(asyncio.run(pool.run(probe.main_ran)))
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


def test_an_idle_process_that_died_is_replaced_before_the_next_item() -> None:
    pool = WorkerPool(1)
    try:
        assert asyncio.run(pool.run(os.getpid)) != os.getpid()
        [idle] = pool._idle
        idle.process.kill()  # killed from outside while it waits (the OOM killer, an operator)
        idle.process.join(10)
        assert asyncio.run(pool.run(sum, (1, 2))) == 3  # not a failure of this item
        assert pool.started == 2
    finally:
        pool.close()


def test_budgets_work_under_finite_hard_limits(tmp_path: Path) -> None:
    """A container may set hard limits; the budget lowers only soft ones and restores them."""
    script = tmp_path / "limited.py"
    script.write_text(
        "import resource\n"
        "from worker.ingest.budget import ItemBudget\n"
        "resource.setrlimit(resource.RLIMIT_DATA, (2**40, 2**40))\n"
        "resource.setrlimit(resource.RLIMIT_CPU, (10**6, 10**6))\n"
        "budget = ItemBudget(None, 10.0, 64_000_000)\n"
        "with budget.item(0):\n"
        "    inside = resource.getrlimit(resource.RLIMIT_DATA)\n"
        "print(inside[0] < 2**40, resource.getrlimit(resource.RLIMIT_DATA) == (2**40, 2**40))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "True True\n"
