"""WARC files on their way into the archive: open, finished, indexed, recovered after a crash.

A process writes its WARC file in a local folder while it is open (``<name>.warc.gz.open``,
locked with ``flock`` for as long as its writer lives): ``<archive>/_warc/.open/`` on a folder;
on an object store, where a file can only be uploaded whole, the spool
``<archive.dir>/.warc-spool/<archive URL>-<hash>/``. A finished file is indexed (cdxj-indexer,
sorted, as pywb indexes) and put in its place with its CDXJ beside it: moved there on a folder
(the CDXJ first, so a WARC in place always has its index), uploaded on an object store (the
WARC, then the CDXJ; the spool copy is removed only after both). A file nobody holds the lock
of was left by a writer that died (SIGKILL, a crash, a lost container): the next start cuts a
torn last record off (a gzip member that never ended), then finishes it like any other.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import logging
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from worker.errors import ArchiveError
from worker.store import layout
from worker.store.files import Staged, discard, make_folders, sync_folder
from worker.store.leftovers import sweep_folder

log = logging.getLogger(__name__)

OPEN = ".open"
OPEN_DIR = f"{layout.WARC_ROOT}/.open"
SPOOL_DIR = ".warc-spool"
YOUNG = 60.0  # an empty unlocked file younger than this may be a writer's, about to be locked
SCAN = 1 << 20


class Sink(Protocol):
    """Where finished WARC files go."""

    @property
    def open_dir(self) -> Path: ...

    def publish(self, path: Path, key: str, index: bytes) -> None:
        """Put the finished file ``path`` at ``key`` with its CDXJ ``index`` beside it, and
        remove ``path``."""
        ...

    def read(self, key: str, offset: int, length: int) -> bytes | None:
        """``length`` bytes at ``offset`` of the WARC file at ``key``, or None."""
        ...


@dataclass
class OpenFile:
    """A WARC file being written: its descriptor (holding the lock), name, size, day."""

    fd: int
    path: Path
    name: str
    key: str
    size: int = 0

    @property
    def day(self) -> str:
        return self.key.split("/", 1)[1].rsplit("/", 1)[0]  # "YYYY/MM/DD"


def create(open_dir: Path, name: str) -> OpenFile:
    """A new, locked, empty WARC file (the lock is taken before anything is written)."""
    open_dir.mkdir(parents=True, exist_ok=True)
    path = open_dir / (name + OPEN)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
    except OSError as exc:
        raise ArchiveError(f"cannot create {path}: {exc.strerror}") from exc
    fcntl.flock(fd, fcntl.LOCK_EX)  # blocks only while a recovery looks at it (see recover)
    return OpenFile(fd, path, name, layout.warc_key(name))


def append(file: OpenFile, data: bytes) -> None:
    """Append ``data`` whole, or not at all: a failed write is cut off again."""
    done = 0
    try:
        while done < len(data):
            done += os.write(file.fd, memoryview(data)[done:])
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.ftruncate(file.fd, file.size)
        why = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
        raise ArchiveError(f"cannot write {file.path}: {why}") from exc
    file.size += len(data)


def complete_length(path: Path) -> int:
    """How many bytes at the start of ``path`` are whole gzip members; anything after them is
    a torn record (a member cut short, or bytes that are not gzip)."""
    good = position = 0
    inflater: zlib._Decompress | None = None
    with open(path, "rb") as stream:
        while chunk := stream.read(SCAN):
            offset = 0
            while offset < len(chunk):
                if inflater is None:
                    inflater = zlib.decompressobj(31)
                try:
                    inflater.decompress(chunk[offset:])
                except zlib.error:
                    return good
                if not inflater.eof:
                    break  # the member goes on in the next chunk
                offset = len(chunk) - len(inflater.unused_data)
                good, inflater = position + offset, None
            position += len(chunk)
    return good


def index(path: Path, name: str) -> bytes:
    """The file's CDXJ index (cdxj-indexer: pywb's format, sorted), naming the file ``name``."""
    from cdxj_indexer.main import write_cdx_index  # 0.2 s to import: only when finishing

    out = io.StringIO()
    try:
        write_cdx_index(out, [str(path)], {"sort": True, "filename": name})
    except Exception as exc:  # the indexer's errors are whatever its parsers raise
        raise ArchiveError(f"cannot index {path}: {exc}") from exc
    return out.getvalue().encode("utf-8")


def finish(sink: Sink, file: OpenFile) -> None:
    """Index a finished file and put it in its place (the caller holds its lock)."""
    sink.publish(file.path, file.key, index(file.path, file.name))


def recover(sink: Sink) -> list[str]:
    """Finish the files of writers that are gone; returns their keys."""
    try:
        entries = sorted(sink.open_dir.glob("*" + layout.WARC + OPEN))
    except OSError:
        return []
    done = []
    for path in entries:
        name = path.name.removesuffix(OPEN)
        try:
            key = layout.warc_key(name)
        except ArchiveError:
            continue
        with _unlocked(path) as fd:
            if fd is None:
                continue
            size = os.fstat(fd).st_size
            if size == 0:
                if time.time() - os.fstat(fd).st_mtime > YOUNG:
                    path.unlink(missing_ok=True)
                continue
            good = complete_length(path)
            if good < size:
                log.warning(
                    "warc_torn_record",
                    extra={"file": name, "offset": good, "bytes_dropped": size - good},
                )
                os.ftruncate(fd, good)
                os.fsync(fd)
            if good == 0:
                path.unlink(missing_ok=True)
                continue
            try:
                finish(sink, OpenFile(fd, path, name, key, good))
            except ArchiveError as exc:
                log.warning("warc_finish_failed", extra={"file": name, "error": str(exc)})
                continue
            done.append(key)
        log.info("warc_recovered", extra={"file": name, "key": key})
    return done


@contextlib.contextmanager
def _unlocked(path: Path) -> Iterator[int | None]:
    """The file's descriptor, locked, if no live writer holds it; else None."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        try:  # another recovery may have finished it between our open and our lock
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        yield fd if same else None
    finally:
        os.close(fd)


class FolderSink:
    """Finished files moved into the folder archive."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def open_dir(self) -> Path:
        return self.root / OPEN_DIR

    def publish(self, path: Path, key: str, index: bytes) -> None:
        target = self.root / layout.checked(key)
        try:
            created = make_folders(target.parent)
            staged = Staged.write(self.root / layout.cdxj_key(key), index)
            try:
                staged.sync()
                staged.place()
            finally:
                discard([staged])
            os.replace(path, target)
            for folder in dict.fromkeys([target.parent, path.parent, *(p.parent for p in created)]):
                sync_folder(folder)
        except OSError as exc:
            raise ArchiveError(f"cannot put {key} in place: {exc.strerror}") from exc
        sweep_folder(target.parent)  # an index left half written by a writer that died

    def read(self, key: str, offset: int, length: int) -> bytes | None:
        for path in (self.root / layout.checked(key), self.open_dir / (key.rsplit("/")[-1] + OPEN)):
            try:
                with open(path, "rb") as stream:
                    stream.seek(offset)
                    return stream.read(length)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise ArchiveError(f"cannot read {key}: {exc.strerror}") from exc
        return None


class Uploads(Protocol):
    def upload(self, key: str, path: os.PathLike[str]) -> None: ...

    def read_range(self, key: str, offset: int, length: int) -> bytes | None: ...


class ObjectSink:
    """Finished files uploaded to the object store from the local spool."""

    def __init__(self, store: Uploads, spool: Path) -> None:
        self.store = store
        self.spool = spool

    @property
    def open_dir(self) -> Path:
        return self.spool

    def publish(self, path: Path, key: str, index: bytes) -> None:
        cdxj = path.with_name(path.name.removesuffix(layout.WARC + OPEN) + layout.CDXJ)
        try:
            cdxj.write_bytes(index)
        except OSError as exc:
            raise ArchiveError(f"cannot write {cdxj}: {exc.strerror}") from exc
        self.store.upload(key, path)
        self.store.upload(layout.cdxj_key(key), cdxj)  # last: a WARC with its index is done
        path.unlink(missing_ok=True)
        cdxj.unlink(missing_ok=True)

    def read(self, key: str, offset: int, length: int) -> bytes | None:
        found = self.store.read_range(key, offset, length)
        if found is not None:
            return found
        try:  # not uploaded yet: still in this machine's spool
            with open(self.spool / (key.rsplit("/")[-1] + OPEN), "rb") as stream:
                stream.seek(offset)
                return stream.read(length)
        except FileNotFoundError:
            return None
