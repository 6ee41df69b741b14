"""Where the CPU-heavy work runs: worker processes when there is a lot of it, a thread otherwise.

Parsing a feed, and extracting, compressing and writing a page, hold the GIL for milliseconds;
in the event loop's process they would stall every download in flight. When a poll brings many
articles (``POOL_BATCH`` or more) and the machine has a second core, worker processes take that
work: they use the other cores, overlap their fsyncs, and leave the loop's process to fetching.
A service spends most of its months between polls that bring a few articles; its processes stop
after ``POOL_IDLE`` seconds without work, and threads do the rest.

Pages go to the processes in batches: while two batches per process are on their way, the
pages fetched meanwhile wait and leave together (up to ``MAX_BATCH``). A batch is written in one
commit (:meth:`worker.store.folder.Archive.write_many`), so its files share the filesystem's journal
commits, and it crosses the process boundary as one message. A lone page leaves at once.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from worker.errors import ExtractError
from worker.ingest.work import PageDone, PageJob, archive_page, archive_pages, init_worker, warm_up

POOL_BATCH = 32
POOL_IDLE = 300.0
MAX_BATCH = 16

T = TypeVar("T")


def _spawn_without_the_cli() -> None:
    """A spawned process runs its parent's main module again unless that is a package's
    ``__main__``; run from the ``news-worker`` script, that would import the whole CLI in every
    worker (a noticeable CPU cost each, and a slower start). Name ``worker.__main__`` as the script's
    module instead (importing it does nothing). Only for our own script: a program that embeds
    news-worker keeps its main module as it is."""
    main = sys.modules.get("__main__")
    entry = getattr(main, "main", None)
    if (
        main is not None
        and main.__spec__ is None
        and getattr(entry, "__module__", "") == "worker.app.cli"
    ):
        main.__spec__ = importlib.util.find_spec("worker.__main__")


class WorkerPool:
    """Worker processes started on demand (see the module docstring)."""

    def __init__(self, processes: int) -> None:
        if processes < 0:
            # As many as there are cores, at least two: writing waits on fsync, not the CPU.
            cores = os.cpu_count() or 1
            processes = max(2, cores) if cores > 1 else 0
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None
        self._started: list[Future[bool]] = []
        # CPU-bound work gains nothing from running side by side in threads (the GIL): one
        # thread finishes the first feed of a poll soonest, and its articles can start.
        self._thread: ThreadPoolExecutor | None = None
        self._used = 0.0
        self._waiting: list[tuple[PageJob, asyncio.Future[PageDone]]] = []
        self._batches: set[asyncio.Task[list[PageDone | Exception]]] = set()

    @property
    def running(self) -> bool:
        return self._executor is not None

    @property
    def ready(self) -> bool:
        """The processes run and have finished starting (their imports take a moment)."""
        return self._executor is not None and all(f.done() for f in self._started)

    def want(self, batch: int) -> None:
        """Start the processes if ``batch`` items are waiting and they would pay for their start
        (each costs a process start and its imports)."""
        if self._executor is not None or self.processes == 0 or batch < POOL_BATCH:
            return
        _spawn_without_the_cli()
        self._executor = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(os.getpid(),),
        )
        self._started = [self._executor.submit(warm_up) for _ in range(self.processes)]
        self._used = time.monotonic()

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """``function(*args)`` in a worker process once they are up, else in a thread."""
        if not self.ready:
            if self._thread is None:
                self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cpu")
            return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)
        return await self._in_process(function, *args)

    async def _in_process(self, function: Callable[..., T], *args: object) -> T:
        self._used = time.monotonic()
        executor = self._executor
        if executor is None:
            raise ExtractError("worker processes stopped")
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, function, *args)
        except BrokenProcessPool as exc:
            # A worker died (killed, out of memory on a hostile page): start others later.
            if self._executor is executor:
                self._executor = None
            raise ExtractError(f"worker process died: {exc}") from exc

    async def archive(self, job: PageJob) -> PageDone:
        """Extract and write one page, batched with others when the processes run."""
        if self._executor is None:
            return await asyncio.to_thread(archive_page, job)
        future: asyncio.Future[PageDone] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        self._dispatch()
        return await future

    def _dispatch(self) -> None:
        while self._waiting and len(self._batches) < 2 * max(self.processes, 1):
            batch = [item for item in self._waiting[:MAX_BATCH] if not item[1].done()]
            del self._waiting[:MAX_BATCH]
            if not batch:
                continue  # every page of it was cancelled while waiting
            jobs = [job for job, _ in batch]
            task = asyncio.get_running_loop().create_task(self._in_process(archive_pages, jobs))
            self._batches.add(task)
            task.add_done_callback(functools.partial(self._settle, batch))

    def _settle(
        self,
        batch: list[tuple[PageJob, asyncio.Future[PageDone]]],
        task: asyncio.Task[list[PageDone | Exception]],
    ) -> None:
        self._batches.discard(task)
        if task.cancelled():
            for _, future in batch:
                future.cancel()
        elif (error := task.exception()) is not None:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
        else:
            for (_, future), outcome in zip(batch, task.result(), strict=True):
                if future.done():
                    continue  # its article was cancelled meanwhile
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
        self._dispatch()

    def reap(self, idle: float = POOL_IDLE) -> None:
        """Stop the processes after ``idle`` seconds without work."""
        if self._executor is not None and time.monotonic() - self._used > idle:
            executor, self._executor = self._executor, None
            executor.shutdown(wait=False)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
