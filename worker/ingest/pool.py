"""Where untrusted bytes are parsed: worker processes, each item inside its budget.

Parsing a feed or a sitemap and extracting a page run in worker processes, never in the event
loop's process: a process can be stopped, and replaced, whatever it is doing; a thread cannot.
Each item gets a CPU-time and a memory budget (``limits.cpu``, ``limits.memory``; enforced by the
kernel in the process, :mod:`worker.ingest.budget`); one past it fails with reason
``cpu_budget`` or ``memory_budget`` and its process is replaced. One process is kept warm for
the whole run or service, so a poll that brings a few articles pays no start; when a poll brings
many (``POOL_BATCH`` or more), or as many items wait for a process (many small polls at once:
400 feeds of 5), and the machine has more cores, more start, and the extra ones stop after
``POOL_IDLE`` seconds without work.

Pages go to the processes in batches: while two batches per process are on their way, the pages
fetched meanwhile wait and leave together (up to ``MAX_BATCH``). A batch is written in one commit
(:meth:`worker.store.folder.Archive.write_many`), so its files share the filesystem's journal
commits, and it crosses the process boundary as one message. A lone page leaves at once. When a
process dies inside a batch (an item past its CPU budget), that item fails and the others go to
another process.

The exchange with a process (send, wait, receive) runs in a thread of this process, which only
waits; the work itself is in the other process. On close, idle processes are told to stop and busy
ones are killed, so nothing outlives the run or delays a shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar, cast

from worker.config import LimitSettings
from worker.errors import BudgetError, ExtractError, WorkerError
from worker.ingest.budget import serve
from worker.ingest.work import PageDone, PageJob, archive_pages

POOL_BATCH = 32
POOL_IDLE = 300.0
MAX_BATCH = 16

T = TypeVar("T")
Outcome = PageDone | Exception


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


class _Process:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, limits: LimitSettings) -> None:
        _spawn_without_the_cli()
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        # Which item the process is on (-1: none): written by it, read here once it has died.
        self.current = context.RawValue("i", -1)
        self.process = context.Process(
            target=serve,
            args=(child, self.current, os.getpid(), limits.cpu, limits.memory),
            name="news-worker-cpu",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.limits = limits
        self.killed = False
        self._closed = False
        self._lock = threading.Lock()

    def exchange(self, message: tuple[object, ...]) -> tuple[str, Any, bool, int | None]:
        """(kind, value, replace, item running at the end): runs in a thread, waiting only."""
        self.current.value = -1
        try:
            self.conn.send(message)
            kind, value, replace = self.conn.recv()
            return kind, value, bool(replace), None
        except (EOFError, OSError):
            current = self.current.value
            return "died", self._death(), True, None if current < 0 else current

    def _death(self) -> WorkerError:
        self.process.join(10)
        code = self.process.exitcode
        if self.killed:
            return ExtractError("worker process stopped", reason="stopped")
        if code == -signal.SIGXCPU:
            return BudgetError(f"over the CPU budget of {self.limits.cpu:g} s", reason="cpu_budget")
        return ExtractError(f"worker process died (exit code {code})", reason="worker_crashed")

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.process.join(2)
        self.kill()

    def kill(self) -> None:
        """Kill the process if it still runs, and close the pipe once: the pool's close, the
        loop and the pipe's thread may all get here for one process at the same moment."""
        with self._lock:
            if self.process.exitcode is None:
                self.killed = True
                self.process.kill()
                self.process.join(5)
            if not self._closed:
                self._closed = True
                with contextlib.suppress(OSError):
                    self.conn.close()


class WorkerPool:
    """Worker processes that parse and extract inside their budgets (see the module docstring)."""

    def __init__(self, processes: int, limits: LimitSettings | None = None) -> None:
        if processes < 0:
            # As many as there are cores, at least two: writing waits on fsync, not the CPU.
            cores = os.cpu_count() or 1
            processes = max(2, cores) if cores > 1 else 1
        self.processes = max(1, processes)
        self.limits = limits or LimitSettings()
        self._target = 1
        self._idle: list[_Process] = []
        self._busy: set[_Process] = set()
        self._waiters: list[asyncio.Future[None]] = []
        self._threads = ThreadPoolExecutor(self.processes, thread_name_prefix="worker-pipe")
        self._used = time.monotonic()
        self._closed = False
        self._waiting: list[tuple[PageJob, asyncio.Future[PageDone]]] = []
        self._batches: set[asyncio.Task[list[Outcome]]] = set()
        self.started = 0  # processes started so far (replacements included)

    @property
    def running(self) -> int:
        """Processes alive now."""
        return len(self._idle) + len(self._busy)

    def warm(self) -> None:
        """Start the warm process now, so its imports happen while the first feeds load."""
        if not self._closed and self.running == 0:
            self._idle.append(self._start())

    def want(self, batch: int) -> None:
        """Use every process if ``batch`` items are waiting (each extra one costs a start)."""
        if batch >= POOL_BATCH and self._target < self.processes:
            self._target = self.processes
            while self.running < self._target and not self._closed:
                self._idle.append(self._start())
            self._wake()

    def _start(self) -> _Process:
        self.started += 1
        return _Process(self.limits)

    async def _acquire(self) -> _Process:
        while True:
            if self._closed:
                raise ExtractError("worker processes stopped", reason="stopped")
            if self._idle:
                return self._idle.pop()
            if self.running < self._target:
                return self._start()
            if self._target < self.processes and len(self._waiters) + 1 >= POOL_BATCH:
                self.want(POOL_BATCH)  # a backlog, of many small polls at once: use them all
                continue
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return

    def _finished(self, process: _Process, replace: bool) -> None:
        self._busy.discard(process)
        if replace or self._closed or self.running >= self._target:
            self._threads.submit(process.stop)
        else:
            self._idle.append(process)
        self._wake()

    async def _exchange(
        self, function: Callable[..., Any], args: tuple[object, ...], batched: bool
    ) -> tuple[str, Any, int | None]:
        process = await self._acquire()
        self._busy.add(process)
        self._used = time.monotonic()
        loop = asyncio.get_running_loop()
        done: Future[tuple[str, Any, bool, int | None]] = self._threads.submit(
            process.exchange, (function, args, batched)
        )

        def settle(future: Future[tuple[str, Any, bool, int | None]]) -> None:
            replace = future.exception() is not None or future.result()[2]
            try:
                loop.call_soon_threadsafe(self._finished, process, replace)
            except RuntimeError:  # the loop is closed: the run is over
                process.kill()

        done.add_done_callback(settle)
        # Whoever waits may be cancelled (shutdown); the process is released when it answers.
        kind, value, _, current = await asyncio.wrap_future(done)
        return kind, value, current

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """``function(*args)`` in a worker process, as one item inside the budget."""
        kind, value, current = await self._exchange(function, args, batched=False)
        if kind == "died" and current is None:  # the process was gone before the item began
            kind, value, current = await self._exchange(function, args, batched=False)
        if kind == "ok":
            return cast(T, value)
        raise value

    async def archive(self, job: PageJob) -> PageDone:
        """Extract and write one page, batched with others."""
        future: asyncio.Future[PageDone] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        self._dispatch()
        return await future

    async def _pages(self, jobs: Sequence[PageJob]) -> list[Outcome]:
        """The outcome of each page; a process that died on one page is that page's failure."""
        outcomes: list[Outcome | None] = [None] * len(jobs)
        pending = list(range(len(jobs)))
        fresh_tries = 1  # a process gone before the batch began: once more on a new one
        while pending:
            kind, value, current = await self._exchange(
                archive_pages, ([jobs[i] for i in pending],), batched=True
            )
            if kind == "died" and current is None and fresh_tries:
                fresh_tries -= 1
                continue
            if kind == "ok":
                for index, outcome in zip(pending, value, strict=True):
                    outcomes[index] = outcome
                break
            if kind == "died" and current is not None and current < len(pending):
                outcomes[pending.pop(current)] = value  # the others go to another process
                continue
            for index in pending:  # died while writing, or an error of the whole batch
                outcomes[index] = value
            break
        return [o if o is not None else ExtractError("no outcome") for o in outcomes]

    def _dispatch(self) -> None:
        while self._waiting and len(self._batches) < 2 * self._target:
            batch = [item for item in self._waiting[:MAX_BATCH] if not item[1].done()]
            del self._waiting[:MAX_BATCH]
            if not batch:
                continue  # every page of it was cancelled while waiting
            task = asyncio.get_running_loop().create_task(self._pages([job for job, _ in batch]))
            self._batches.add(task)
            task.add_done_callback(functools.partial(self._settle, batch))

    def _settle(
        self,
        batch: list[tuple[PageJob, asyncio.Future[PageDone]]],
        task: asyncio.Task[list[Outcome]],
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
        """Back to the one warm process after ``idle`` seconds without work."""
        if time.monotonic() - self._used > idle:
            self._target = 1
            while len(self._idle) > 1 or (self._idle and self._busy):
                self._threads.submit(self._idle.pop().stop)

    def close(self) -> None:
        """Stop the idle processes and kill the busy ones (a shutdown waits for neither)."""
        self._closed = True
        idle, self._idle = self._idle, []
        for process in idle:
            process.stop()
        for process in list(self._busy):
            process.kill()
        self._busy.clear()
        self._threads.shutdown(wait=True)
