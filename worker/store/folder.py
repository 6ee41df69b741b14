"""The archive on a folder: the only writer of article files on disk.

Layout as :mod:`worker.store.layout` says. A changed article becomes a new revision: the
previous record (and raw page) are kept as ``<id>.r<N>.json`` / ``<id>.r<N>.html.gz`` before the
new one replaces ``<id>.json``. Every file is complete or absent (:mod:`worker.store.files`).
"""

from __future__ import annotations

import errno
import gzip
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from worker.config import SOURCE_NAME
from worker.errors import ArchiveError
from worker.parse.urls import SAFE_ID
from worker.store import layout
from worker.store.files import (
    Staged,
    discard,
    gzip_page,
    is_stale_temporary,
    side_by_side,
    sync_folder,
    write_error,
)
from worker.store.interfaces import ArchiveSpec, WriteOutcome, WriteResult
from worker.store.record import dumps

log = logging.getLogger(__name__)


class FolderArchive:
    """The archive store on a local folder."""

    def __init__(self, root: Path, *, keep_raw: bool = True) -> None:
        self.root = root
        self.keep_raw = keep_raw

    @property
    def location(self) -> str:
        return str(self.root)

    @property
    def spec(self) -> ArchiveSpec:
        return ArchiveSpec(str(self.root), self.keep_raw)

    def _path(self, relative: str) -> Path:
        """``relative`` under the root; refused if it could point elsewhere. Checked on the
        string: no system call per write, and a folder of the archive that is a symbolic link
        to another disk keeps working."""
        return self.root / layout.checked(relative)

    def writable(self) -> str | None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".ready-{os.getpid()}"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            why = "disk full" if exc.errno == errno.ENOSPC else str(exc.strerror or exc)
            return f"{self.root}: {why}"
        return None

    def _load(self, relative: str) -> dict[str, Any] | None:
        try:
            data = self._path(relative).read_bytes()
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

    def read(self, relative: str) -> dict[str, Any] | None:
        return self._load(relative)

    def read_raw(self, relative: str) -> bytes | None:
        try:
            return gzip.decompress(self._path(layout.raw_path(relative)).read_bytes())
        except (OSError, EOFError, gzip.BadGzipFile):
            return None

    def revisions(self, relative: str) -> list[int]:
        path = self._path(relative)
        wanted = path.name.removesuffix(layout.RECORD)
        try:
            names = os.listdir(path.parent)
        except OSError:
            return []
        kept = []
        for name in names:
            found = layout.revision_of(name)
            if found is not None and found[0] == wanted:
                kept.append(found[1])
        return sorted(kept)

    def read_revision(self, relative: str, revision: int) -> dict[str, Any] | None:
        current = self._load(relative)
        if current is not None and int(current.get("revision", 1)) == revision:
            return current
        return self._load(layout.revision_path(relative, revision))

    def write(self, record: dict[str, Any], relative: str, raw: bytes | None) -> WriteResult:
        """Store ``record`` at ``relative``: new, a new revision, or nothing if unchanged."""
        result = self.write_many([(record, relative, raw)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def write_many(
        self, items: Sequence[tuple[dict[str, Any], str, bytes | None]]
    ) -> list[WriteResult | Exception]:
        """Store several records (``(record, relative, raw)`` each) in one commit: every file
        is written to its temporary name, then all are fsynced, renamed in order, and each
        folder fsynced once. The files of a batch share the filesystem's journal commits
        instead of forcing three each. One article's failure is its own result; the others
        are written."""
        results: list[WriteResult | Exception] = []
        batch: list[list[Staged]] = []
        try:
            for record, relative, raw in items:
                files: list[Staged] = []
                try:
                    results.append(self._stage(record, relative, raw, files))
                except ArchiveError as exc:
                    discard(files)
                    files = []
                    results.append(exc)
                batch.append(files)
            staged_files = [
                (index, staged) for index, files in enumerate(batch) for staged in files
            ]
            synced = side_by_side(Staged.sync, [staged for _, staged in staged_files])
            for (index, staged), error in zip(staged_files, synced, strict=True):
                if error is not None and batch[index]:
                    results[index] = write_error(staged.path, error)
                    discard(batch[index])
                    batch[index] = []
            folders: dict[Path, list[int]] = {}
            for index, files in enumerate(batch):
                try:
                    for staged in files:
                        os.replace(staged.tmp, staged.path)
                        staged.done = True
                except OSError as exc:
                    results[index] = write_error(staged.path, exc)  # the file that failed
                    discard(files)
                    continue
                if files:
                    folders.setdefault(files[-1].path.parent, []).append(index)
            for (folder, indexes), error in zip(
                folders.items(), side_by_side(sync_folder, list(folders)), strict=True
            ):
                if error is not None:
                    for index in indexes:
                        results[index] = write_error(folder, error)
        finally:
            for files in batch:
                discard(files)  # only what is left after an unexpected error
        return results

    def _stage(
        self, record: dict[str, Any], relative: str, raw: bytes | None, files: list[Staged]
    ) -> WriteResult:
        """Decide what storing ``record`` takes and write each file to its temporary name (in
        the order they are to be renamed); nothing is visible yet."""
        path = self._path(relative)
        current = self._load(relative)
        revision = 1
        outcome: WriteOutcome = "new"
        if current is not None:
            if current.get("content_hash") == record["content_hash"]:
                return WriteResult("unchanged", relative, int(current.get("revision", 1)))
            previous = int(current.get("revision", 1))
            revision = previous + 1
            outcome = "updated"
            kept = self._path(layout.revision_path(relative, previous))
            files.append(Staged.write(kept, dumps(current)))
            old_raw = self._path(layout.raw_path(relative))
            if old_raw.exists():
                kept_raw = self._path(layout.raw_revision_path(relative, previous))
                files.append(Staged.write(kept_raw, old_raw.read_bytes()))
        record = {**record, "revision": revision}
        if raw is not None and self.keep_raw:
            files.append(Staged.write(self._path(layout.raw_path(relative)), gzip_page(raw)))
        files.append(Staged.write(path, dumps(record)))  # last: the record says it is complete
        return WriteResult(outcome, relative, revision)

    def records(self, source: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every current record of a source: (relative path, record). Revisions, raw pages,
        temporary and unreadable files are skipped."""
        base = self.root / source
        if not SOURCE_NAME.match(source) or not base.is_dir():
            return
        for path in sorted(base.glob("*/*/*/*.json")):
            stem = layout.record_id(path.name)
            if stem is None:
                continue  # <id>.r<N>.json revisions and stray names
            relative = path.relative_to(self.root).as_posix()
            record = self._load(relative)
            if record is not None and record.get("id") == stem:
                yield relative, record

    def has_records(self, source: str) -> bool:
        return next(self.records(source), None) is not None

    def find(self, article_id: str) -> list[str]:
        if not SAFE_ID.match(article_id):
            return []
        return sorted(
            path.relative_to(self.root).as_posix()
            for path in self.root.glob(f"*/*/*/*/{article_id}{layout.RECORD}")
        )

    def locate(self, path: str) -> str | None:
        try:
            relative = Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except (ValueError, OSError):
            return None
        return relative if layout.is_record_key(relative) else None

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
                elif is_stale_temporary(entry):
                    try:
                        os.unlink(entry.path)
                        removed += 1
                    except OSError:
                        pass
        return removed
