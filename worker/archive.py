"""The archive: the only writer of article files.

Layout: ``<root>/<source>/<YYYY>/<MM>/<DD>/<id>.json`` (the publication day in UTC), the raw page
beside it as ``<id>.html.gz``. A changed article becomes a new revision: the previous record
(and raw page) are kept as ``<id>.r<N>.json`` / ``<id>.r<N>.html.gz`` before the new one replaces
``<id>.json``. Every file is written to a temporary name in the same folder, fsynced and renamed,
so a file is complete or absent whatever kills the process. Temporary names carry the writer's
PID, so :meth:`Archive.sweep` only removes those of processes that are gone.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from worker import dates
from worker.config import SOURCE_NAME
from worker.errors import ArchiveError
from worker.record import dumps
from worker.urls import SAFE_ID

_isal_compress: Callable[..., bytes] | None
try:  # ISA-L's deflate: 4x faster than zlib's level 1 on news pages, and smaller output
    from isal.igzip import compress as _isal_compress
except ImportError:  # a platform without its wheels: zlib
    _isal_compress = None

log = logging.getLogger(__name__)
TMP_MARK = ".tmp-"
SYNC_THREADS = 8
T = TypeVar("T")


@dataclass(frozen=True)
class WriteResult:
    outcome: str  # "new", "updated" or "unchanged"
    path: str  # relative to the archive root
    revision: int


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def gzip_page(raw: bytes) -> bytes:
    """The raw page as a .gz file, fast: level 1 (zlib's default 6 took 4 ms a page, for 8%
    fewer bytes), by ISA-L where installed (0.34 ms against zlib's 1.46 on 120 KB pages)."""
    if _isal_compress is not None:
        return _isal_compress(raw, 1, mtime=0)
    return gzip.compress(raw, compresslevel=1, mtime=0)


class Archive:
    def __init__(self, root: Path, *, keep_raw: bool = True) -> None:
        self.root = root
        self.keep_raw = keep_raw

    @staticmethod
    def relative_path(
        source: str, article_id: str, published_at: str | None, first_seen: datetime
    ) -> str:
        """Where an article's record lives, relative to the root. Refuses unsafe names."""
        if not SOURCE_NAME.match(source):
            raise ArchiveError(f"unsafe source name {source!r}")
        if not SAFE_ID.match(article_id):
            raise ArchiveError(f"unsafe article id {article_id!r}")
        year, month, day = dates.utc_day(published_at, first_seen)
        return f"{source}/{year}/{month}/{day}/{article_id}.json"

    def _resolve(self, relative: str) -> Path:
        """``relative`` under the root; refused if it could point elsewhere (absolute, "..",
        empty parts). Checked on the string: no system call per write, and a folder of the
        archive that is a symbolic link to another disk keeps working."""
        parts = relative.split("/")
        if (
            relative.startswith("/")
            or "\\" in relative
            or "\0" in relative
            or any(part in ("", ".", "..") for part in parts)
        ):
            raise ArchiveError(f"path {relative!r} escapes the archive")
        return self.root / relative

    def read(self, relative: str) -> dict[str, Any] | None:
        """The record stored at ``relative``, or None if there is none (or it is unreadable)."""
        try:
            data = self._resolve(relative).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ArchiveError(f"cannot read {relative}: {exc.strerror}") from exc
        try:
            loaded = orjson.loads(data)
        except orjson.JSONDecodeError:
            log.warning("archive_record_unreadable", extra={"path": relative})
            return None
        return loaded if isinstance(loaded, dict) else None

    def write(self, record: dict[str, Any], relative: str, raw: bytes | None) -> WriteResult:
        """Store ``record`` at ``relative``: new, a new revision, or nothing if unchanged."""
        result = self.write_many([(record, relative, raw)])[0]
        if isinstance(result, ArchiveError):
            raise result
        return result

    def write_many(
        self, items: Sequence[tuple[dict[str, Any], str, bytes | None]]
    ) -> list[WriteResult | ArchiveError]:
        """Store several records (``(record, relative, raw)`` each) in one commit: every file
        is written to its temporary name, then all are fsynced, renamed in order, and each
        folder fsynced once. The files of a batch share the filesystem's journal commits
        instead of forcing three each. One article's failure is its own result; the others
        are written."""
        results: list[WriteResult | ArchiveError] = []
        batch: list[list[_Staged]] = []
        try:
            for record, relative, raw in items:
                files: list[_Staged] = []
                try:
                    results.append(self._stage(record, relative, raw, files))
                except ArchiveError as exc:
                    _discard(files)
                    files = []
                    results.append(exc)
                batch.append(files)
            staged_files = [
                (index, staged) for index, files in enumerate(batch) for staged in files
            ]
            synced = _side_by_side(_Staged.sync, [staged for _, staged in staged_files])
            for (index, staged), error in zip(staged_files, synced, strict=True):
                if error is not None and batch[index]:
                    results[index] = _error(staged.path, error)
                    _discard(batch[index])
                    batch[index] = []
            folders: dict[Path, list[int]] = {}
            for index, files in enumerate(batch):
                try:
                    for staged in files:
                        os.replace(staged.tmp, staged.path)
                        staged.done = True
                except OSError as exc:
                    results[index] = _error(staged.path, exc)  # the file that failed
                    _discard(files)
                    continue
                if files:
                    folders.setdefault(files[-1].path.parent, []).append(index)
            for (folder, indexes), error in zip(
                folders.items(), _side_by_side(_sync_folder, list(folders)), strict=True
            ):
                if error is not None:
                    for index in indexes:
                        results[index] = _error(folder, error)
        finally:
            for files in batch:
                _discard(files)  # only what is left after an unexpected error
        return results

    def _stage(
        self, record: dict[str, Any], relative: str, raw: bytes | None, files: list[_Staged]
    ) -> WriteResult:
        """Decide what storing ``record`` takes and write each file to its temporary name (in
        the order they are to be renamed); nothing is visible yet."""
        path = self._resolve(relative)
        stem = path.name[: -len(".json")]
        current = self.read(relative)
        revision = 1
        outcome = "new"
        if current is not None:
            if current.get("content_hash") == record["content_hash"]:
                return WriteResult("unchanged", relative, int(current.get("revision", 1)))
            previous = int(current.get("revision", 1))
            revision = previous + 1
            outcome = "updated"
            files.append(_Staged.write(path.with_name(f"{stem}.r{previous}.json"), dumps(current)))
            old_raw = path.with_name(f"{stem}.html.gz")
            if old_raw.exists():
                kept = path.with_name(f"{stem}.r{previous}.html.gz")
                files.append(_Staged.write(kept, old_raw.read_bytes()))
        record = {**record, "revision": revision}
        if raw is not None and self.keep_raw:
            files.append(_Staged.write(path.with_name(f"{stem}.html.gz"), gzip_page(raw)))
        files.append(_Staged.write(path, dumps(record)))  # last: the record says it is complete
        return WriteResult(outcome, relative, revision)

    def records(self, source: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every current record of a source: (relative path, record). Revisions, raw pages,
        temporary and unreadable files are skipped."""
        base = self.root / source
        if not SOURCE_NAME.match(source) or not base.is_dir():
            return
        for path in sorted(base.glob("*/*/*/*.json")):
            stem = path.name[: -len(".json")]
            if not SAFE_ID.match(stem):
                continue  # <id>.r<N>.json revisions and stray names
            relative = path.relative_to(self.root).as_posix()
            record = self.read(relative)
            if record is not None and record.get("id") == stem:
                yield relative, record

    def has_records(self, source: str) -> bool:
        return next(self.records(source), None) is not None

    def sweep(self) -> int:
        """Remove temporary files left by writers that died; returns how many were removed."""
        removed = 0
        if not self.root.is_dir():
            return 0
        stack = [self.root]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif TMP_MARK in entry.name and entry.name.startswith(".") and self._stale(entry):
                    try:
                        os.unlink(entry.path)
                        removed += 1
                    except OSError:
                        pass
        return removed

    @staticmethod
    def _stale(entry: os.DirEntry[str]) -> bool:
        tail = entry.name.rsplit(TMP_MARK, 1)[-1]
        pid_text = tail.split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text)):
            return True
        try:
            return time.time() - entry.stat().st_mtime > 3600
        except OSError:
            return False


def _error(path: Path, exc: OSError) -> ArchiveError:
    why = "disk full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
    return ArchiveError(f"cannot write {path}: {why}")


_syncers: ThreadPoolExecutor | None = None


def _side_by_side(function: Callable[[T], None], items: list[T]) -> list[OSError | None]:
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


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Staged:
    """A file written to its temporary name, open until fsynced, then renamed into place."""

    __slots__ = ("done", "fd", "path", "tmp")

    def __init__(self, path: Path, tmp: Path, fd: int) -> None:
        self.path = path
        self.tmp = tmp
        self.fd: int | None = fd
        self.done = False

    @classmethod
    def write(cls, path: Path, data: bytes) -> _Staged:
        tmp = path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            try:
                fd = os.open(tmp, flags, 0o644)
            except FileNotFoundError:  # the day's folder is new
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(tmp, flags, 0o644)
        except OSError as exc:
            raise _error(path, exc) from exc
        staged = cls(path, tmp, fd)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except OSError as exc:
            _discard([staged])
            raise _error(path, exc) from exc
        return staged

    def sync(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _discard(files: list[_Staged]) -> None:
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
