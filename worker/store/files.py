"""Files that are complete or absent: written to a temporary name in the same folder, fsynced,
renamed into place, the folder fsynced. Temporary names carry the writer's PID, so a sweep
removes only those of writers that are gone.

Several files are staged together and their fsyncs run side by side in threads: fsyncs that wait
together share the filesystem's journal commits.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gzip
import os
import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from worker.errors import ArchiveError

_isal_compress: Callable[..., bytes] | None
try:  # ISA-L's deflate: several times zlib's speed on news pages (docs/PERFORMANCE.md)
    from isal.igzip import compress as _isal_compress
except ImportError:  # a platform without its wheels: zlib
    _isal_compress = None

TMP_MARK = ".tmp-"
SYNC_THREADS = 8
T = TypeVar("T")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs. A zombie does not: a process killed with its parent stays
    one until PID 1 reaps it, which in a container without an init may be never, and its
    temporary files and logs must not wait for that."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # not Linux, or gone meanwhile: the signal said it ran
    return state not in (b"Z", b"X")


def gzip_page(raw: bytes) -> bytes:
    """The raw page as a .gz file, fast: level 1 (zlib's default 6 costs several times the time
    for a few per cent fewer bytes), by ISA-L where installed (docs/PERFORMANCE.md)."""
    if _isal_compress is not None:
        return _isal_compress(raw, 1, mtime=0)
    return gzip.compress(raw, compresslevel=1, mtime=0)


def write_error(path: Path, exc: OSError) -> ArchiveError:
    why = "disk full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
    return ArchiveError(f"cannot write {path}: {why}")


_syncers: ThreadPoolExecutor | None = None


def side_by_side(function: Callable[[T], None], items: list[T]) -> list[OSError | None]:
    """``function`` on every item (fsyncs), in threads when there are several: fsyncs that wait
    together share the filesystem's journal commits (a batch's I/O took half the time or less
    than one fsync after another). The error of each item, or None."""
    global _syncers

    def one(item: T) -> OSError | None:
        try:
            function(item)
        except OSError as exc:
            return exc
        return None

    if len(items) <= 1:
        return [one(item) for item in items]
    if _syncers is None:
        _syncers = ThreadPoolExecutor(max_workers=SYNC_THREADS, thread_name_prefix="fsync")
    return list(_syncers.map(one, items))


def sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those created, outermost first (their
    parents must be fsynced too, or a power loss can drop a new day folder)."""
    missing = []
    current = folder
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    created = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            if not path.is_dir():
                raise NotADirectoryError(20, "Not a directory", str(path)) from None
            continue
        created.append(path)
    return created


@contextlib.contextmanager
def locked(folders: list[Path]) -> Iterator[None]:
    """Hold an exclusive lock on each folder (in a fixed order), so writers in other processes
    read and replace the same records one after the other."""
    fds: list[int] = []
    try:
        for folder in sorted(set(folders)):
            fd = os.open(folder, os.O_RDONLY)
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in fds:
            os.close(fd)  # closing releases the lock


class Staged:
    """A file written to its temporary name, open until fsynced, then put into place: renamed
    over the old file, or (``exclusive``) linked only if no file has that name yet."""

    __slots__ = ("done", "exclusive", "fd", "path", "tmp")

    def __init__(self, path: Path, tmp: Path, fd: int, exclusive: bool) -> None:
        self.path = path
        self.tmp = tmp
        self.fd: int | None = fd
        self.done = False
        self.exclusive = exclusive

    @classmethod
    def write(cls, path: Path, data: bytes, *, exclusive: bool = False) -> Staged:
        tmp = path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            fd = os.open(tmp, flags, 0o644)
        except OSError as exc:
            raise write_error(path, exc) from exc
        staged = cls(path, tmp, fd, exclusive)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except OSError as exc:
            discard([staged])
            raise write_error(path, exc) from exc
        return staged

    def place(self) -> None:
        """Into place. An exclusive file that exists already is kept as it is: it is the copy
        an interrupted earlier write made of the same revision."""
        if self.exclusive:
            with contextlib.suppress(FileExistsError):
                os.link(self.tmp, self.path)
            os.unlink(self.tmp)
        else:
            os.replace(self.tmp, self.path)
        self.done = True

    def sync(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def discard(files: list[Staged]) -> None:
    """Close and remove the temporary files not yet renamed."""
    for staged in files:
        if staged.fd is not None:
            with contextlib.suppress(OSError):
                os.close(staged.fd)
            staged.fd = None
        if not staged.done:
            with contextlib.suppress(OSError):
                staged.tmp.unlink(missing_ok=True)
            staged.done = True


def is_stale_temporary(entry: os.DirEntry[str]) -> bool:
    """A temporary file of a writer that is gone (or one over an hour old)."""
    if TMP_MARK not in entry.name or not entry.name.startswith("."):
        return False
    tail = entry.name.rsplit(TMP_MARK, 1)[-1]
    pid_text = tail.split("-", 1)[0]
    if pid_text.isdigit() and int(pid_text) != os.getpid() and not pid_alive(int(pid_text)):
        return True
    try:
        return time.time() - entry.stat().st_mtime > 3600
    except OSError:
        return False
