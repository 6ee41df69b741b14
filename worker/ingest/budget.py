"""The worker process's side: every item (a feed or sitemap to parse, a page to extract) runs
inside its CPU and memory budget, enforced by the kernel.

Before each item the process lowers its own soft limits: ``RLIMIT_CPU`` to the CPU time used so
far plus the budget (past it the kernel sends SIGXCPU, whose default action ends the process,
even inside C code such as lexbor's or libxml2's parsers), ``RLIMIT_DATA`` to the memory mapped so
far plus the budget (past it allocations fail: Python raises MemoryError, lexbor gives up on the
page). After the item both go back to the hard limits, which are never touched, so an
unprivileged process can raise them again. The parent (:mod:`worker.ingest.pool`) learns which
item was running from a shared integer the process sets before each, and replaces a process
that died or asked to be replaced (one that grew, or hit its memory budget).
"""

from __future__ import annotations

import ctypes
import math
import os
import resource
import signal
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

from worker.errors import BudgetError, WorkerError


def _status(key: str) -> int:
    """A figure of /proc/self/status in bytes (VmData, VmRSS, VmHWM), 0 where unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


_PAGE = os.sysconf("SC_PAGE_SIZE")


def _open(path: str, flags: int) -> int | None:
    try:
        return os.open(path, flags)
    except OSError:
        return None


def _from_memory(exc: BaseException) -> bool:
    """Whether a MemoryError is among the causes of ``exc``."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, MemoryError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class ItemBudget:
    """Applies the limits around each item and tells the parent which item runs. The files it
    reads and writes per item stay open (a path open costs more than the rest together)."""

    def __init__(self, current: Synchronized[int] | None, cpu: float, memory: int) -> None:
        self.current = current
        self.cpu = cpu
        self.memory = memory
        self.recycle = False
        self._statm = _open("/proc/self/statm", os.O_RDONLY)
        self._clear = _open("/proc/self/clear_refs", os.O_WRONLY)
        self._hard = {
            which: resource.getrlimit(which)[1]
            for which in (resource.RLIMIT_CPU, resource.RLIMIT_DATA)
        }
        self.rest = self._usage()[0]

    def _usage(self) -> tuple[int, int]:
        """(resident, data) bytes of this process, from /proc/self/statm."""
        if self._statm is None:
            return 0, 0
        try:
            fields = os.pread(self._statm, 200, 0).split()
            return int(fields[1]) * _PAGE, int(fields[5]) * _PAGE
        except (OSError, IndexError, ValueError):
            return 0, 0

    def _reset_peak(self) -> None:
        if self._clear is not None:
            with suppress(OSError):
                os.write(self._clear, b"5")  # VmHWM starts again from VmRSS

    def _limit(self, which: int, soft: int) -> None:
        hard = self._hard[which]
        if hard != resource.RLIM_INFINITY and (soft == resource.RLIM_INFINITY or soft > hard):
            soft = hard  # RLIM_INFINITY is -1: min() would not do
        resource.setrlimit(which, (soft, hard))

    @contextmanager
    def item(self, index: int) -> Iterator[None]:
        if self.current is not None:
            self.current.value = index
        rss, data = self._usage()
        self._reset_peak()
        self._limit(resource.RLIMIT_CPU, math.ceil(_cpu_used() + self.cpu))
        self._limit(resource.RLIMIT_DATA, data + self.memory)
        try:
            yield
        except MemoryError:
            self.recycle = True
            raise BudgetError(
                f"over the memory budget of {self.memory} bytes", reason="memory_budget"
            ) from None
        except Exception as exc:
            # lexbor and libxml2 report a failed allocation as a failed parse; our own parsers
            # wrap a library's MemoryError in a ParseError.
            if _from_memory(exc) or (
                not isinstance(exc, WorkerError) and _status("VmHWM") - rss >= self.memory // 2
            ):
                self.recycle = True
                raise BudgetError(
                    f"over the memory budget of {self.memory} bytes ({type(exc).__name__})",
                    reason="memory_budget",
                ) from None
            raise
        finally:
            self._limit(resource.RLIMIT_DATA, resource.RLIM_INFINITY)
            self._limit(resource.RLIMIT_CPU, resource.RLIM_INFINITY)
        if self._usage()[0] - self.rest > self.memory // 4:
            self.recycle = True  # what the item left behind is not given back: start afresh


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process the moment its parent dies (prctl PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the watchdog thread below does it, within half a second


def init_worker(parent: int) -> None:
    """Worker process initializer. SIGINT/SIGTERM are for the main process, which drains and
    then shuts the pool down (a Ctrl-C reaches the whole process group; so may a supervisor's
    SIGTERM). A worker must not outlive its parent: after a kill -9 of the parent it would go on
    with its batch and write files after the next start swept the dead writers' temporary files
    (a writer still alive keeps them), so the kernel kills it with its parent; a watchdog thread
    does the same where that is not available. A write cut short leaves only a temporary file,
    which the next start removes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent()
    if os.getppid() != parent:  # the parent died while this worker was starting
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve(
    conn: Connection, current: Synchronized[int], parent: int, cpu: float, memory: int
) -> None:
    """A worker process: answer ``(function, args, batched)`` messages until told to stop (None)
    or the parent is gone. A batched function takes ``each`` and budgets its items itself."""
    init_worker(parent)
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    budget = ItemBudget(current, cpu, memory)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message is None:
            break
        function, args, batched = message
        reply: tuple[str, Any, bool]
        try:
            if batched:
                value = function(*args, each=budget.item)
            else:
                with budget.item(0):
                    value = function(*args)
            reply = ("ok", value, budget.recycle)
        except Exception as exc:
            if not isinstance(exc, WorkerError):
                exc.add_note(traceback.format_exc())
            reply = ("error", exc, budget.recycle)
        try:
            conn.send(reply)
        except Exception as exc:  # an answer that cannot be pickled is a bug, not a hang
            conn.send(("error", WorkerError(f"unsendable answer: {exc!r}"), True))
        if budget.recycle:
            break
    conn.close()
    os._exit(0)
