"""Where the CPU-heavy work runs: worker processes when there is a lot of it, a thread otherwise.

Parsing a feed, and extracting, compressing and writing a page, hold the GIL for milliseconds;
in the event loop's process they would stall every download in flight. When a poll brings many
articles (``POOL_BATCH`` or more) and the machine has a second core, worker processes take that
work: they use the other cores, overlap their fsyncs, and leave the loop's process to fetching.
A service spends most of its months between polls that bring a few articles; its processes stop
after ``POOL_IDLE`` seconds without work, and threads do the rest.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from worker.errors import ExtractError
from worker.work import init_worker, warm_up

POOL_BATCH = 32
POOL_IDLE = 300.0

T = TypeVar("T")


class WorkerPool:
    """Worker processes started on demand (see the module docstring)."""

    def __init__(self, processes: int) -> None:
        if processes < 0:
            # As many as there are cores, at least two: writing waits on fsync, not the CPU.
            cores = os.cpu_count() or 1
            processes = max(2, cores) if cores > 1 else 0
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None
        self._used = 0.0

    @property
    def running(self) -> bool:
        return self._executor is not None

    def want(self, batch: int) -> None:
        """Start the processes if ``batch`` items are waiting and they would pay for their start
        (about a third of a second of CPU each)."""
        if self._executor is not None or self.processes == 0 or batch < POOL_BATCH:
            return
        self._executor = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(os.getpid(),),
        )
        for _ in range(self.processes):
            self._executor.submit(warm_up)
        self._used = time.monotonic()

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """``function(*args)`` in a worker process if they run, else in a thread."""
        self._used = time.monotonic()
        executor = self._executor
        if executor is None:
            return await asyncio.to_thread(function, *args)
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, function, *args)
        except BrokenProcessPool as exc:
            # A worker died (killed, out of memory on a hostile page): start others later.
            if self._executor is executor:
                self._executor = None
            raise ExtractError(f"worker process died: {exc}") from exc

    def reap(self, idle: float = POOL_IDLE) -> None:
        """Stop the processes after ``idle`` seconds without work."""
        if self._executor is not None and time.monotonic() - self._used > idle:
            executor, self._executor = self._executor, None
            executor.shutdown(wait=False)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
