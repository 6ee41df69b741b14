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
from datetime import date
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
    locked,
    make_folders,
    side_by_side,
    sync_folder,
    write_error,
)
from worker.store.interfaces import ArchiveSpec, WriteOutcome, WriteResult
from worker.store.leftovers import WriterLog, sweep_tree
from worker.store.record import dumps

log = logging.getLogger(__name__)


class FolderArchive:
    """The archive store on a local folder."""

    def __init__(self, root: Path, *, keep_raw: bool = True) -> None:
        self.root = root
        self.keep_raw = keep_raw
        self._writers = WriterLog(root, self._path)

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
        return layout.earlier_revisions(names, wanted, self._load(relative))

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
        is written to its temporary name, then all are fsynced, put into place in order, and
        each folder (with the parents of folders just created) fsynced once. The files of a
        batch share the filesystem's journal commits instead of forcing three each. Each
        record's folder is locked meanwhile, so writers in other processes take revisions one
        after the other. One article's failure is its own result; the others are written."""
        results: list[WriteResult | Exception] = []
        batch: list[list[Staged]] = []
        created: list[Path] = []
        folders_ok: dict[Path, OSError | None] = {}
        for _, relative, _ in items:
            try:
                folder = self._path(relative).parent
            except ArchiveError:
                continue
            if folder not in folders_ok:
                try:
                    created += make_folders(folder)
                    self._writers.note(folder)
                    folders_ok[folder] = None
                except OSError as exc:
                    folders_ok[folder] = exc
        with locked([f for f, error in folders_ok.items() if error is None]):
            try:
                for record, relative, raw in items:
                    files: list[Staged] = []
                    try:
                        error = folders_ok.get(self._path(relative).parent)
                        if error is not None:
                            raise write_error(self._path(relative).parent, error)
                        results.append(self._stage(record, relative, raw, files))
                    except ArchiveError as exc:
                        discard(files)
                        files = []
                        results.append(exc)
                    batch.append(files)
                self._commit(batch, results, created)
            finally:
                for files in batch:
                    discard(files)  # only what is left after an unexpected error
        return results

    def _commit(
        self,
        batch: list[list[Staged]],
        results: list[WriteResult | Exception],
        created: list[Path],
    ) -> None:
        staged_files = [(index, staged) for index, files in enumerate(batch) for staged in files]
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
                    staged.place()
            except OSError as exc:
                results[index] = write_error(staged.path, exc)  # the file that failed
                discard(files)
                continue
            if files:
                folders.setdefault(files[-1].path.parent, []).append(index)
        # New folders are entries of their parents: those are made durable too.
        to_sync = list(dict.fromkeys([*folders, *(p.parent for p in created)]))
        errors = dict(zip(to_sync, side_by_side(sync_folder, to_sync), strict=True))
        lost = [(p, errors[p.parent]) for p in created if errors[p.parent] is not None]
        for folder, indexes in folders.items():
            failure = errors[folder] or next((e for p, e in lost if folder.is_relative_to(p)), None)
            if failure is not None:
                for index in indexes:
                    results[index] = write_error(folder, failure)

    def _stage(
        self, record: dict[str, Any], relative: str, raw: bytes | None, files: list[Staged]
    ) -> WriteResult:
        """Decide what storing ``record`` takes and write each file to its temporary name (in
        the order they are to be put in place); nothing is visible yet.

        The order makes a crash at any point harmless: the earlier revision's copies (created
        only if absent: a copy left by an interrupted write is that same revision) before the
        new raw page, the record last. A retry after a crash finds the copies there and keeps
        them, so it never copies an already replaced raw page over the earlier one."""
        path = self._path(relative)
        current = self._load(relative)
        revision = 1
        outcome: WriteOutcome = "new"
        new_raw = raw is not None and self.keep_raw
        if current is not None:
            if current.get("content_hash") == record["content_hash"]:
                return WriteResult("unchanged", relative, int(current.get("revision", 1)))
            previous = int(current.get("revision", 1))
            revision = previous + 1
            outcome = "updated"
            kept = self._path(layout.revision_path(relative, previous))
            files.append(Staged.write(kept, dumps(current), exclusive=True))
            old_raw = self._path(layout.raw_path(relative))
            if new_raw and old_raw.exists():
                kept_raw = self._path(layout.raw_revision_path(relative, previous))
                files.append(Staged.write(kept_raw, old_raw.read_bytes(), exclusive=True))
        record = {**record, "revision": revision}
        if raw is not None and self.keep_raw:
            files.append(Staged.write(self._path(layout.raw_path(relative)), gzip_page(raw)))
        files.append(Staged.write(path, dumps(record)))  # last: the record says it is complete
        return WriteResult(outcome, relative, revision)

    def records(
        self, source: str, days: layout.Days = layout.ALL_DAYS
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every current record of a source: (relative path, record), a day folder at a time
        (only the days in the range). Revisions, raw pages, temporary and unreadable files are
        skipped."""
        base = self.root / source
        if not SOURCE_NAME.match(source) or not base.is_dir():
            return
        for day in _day_folders(base, *days):
            for name in _names(day):
                stem = layout.record_id(name)
                if stem is None:
                    continue  # <id>.r<N>.json revisions and stray names
                relative = f"{source}/{day.relative_to(base).as_posix()}/{name}"
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
        """Remove what writers that died left half done, in the folders their logs name
        (not a walk of the whole archive); returns how many files were removed."""
        return self._writers.sweep()

    def sweep_all(self) -> int:
        """Remove the temporary files of dead writers anywhere in the archive (a full walk)."""
        return sweep_tree(self.root)


def _names(folder: Path) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def _day_folders(base: Path, since: date | None, until: date | None) -> Iterator[Path]:
    """``<base>/<YYYY>/<MM>/<DD>`` in order, only those that can hold days in the range."""

    def below(folder: Path, parts: tuple[int, ...]) -> Iterator[tuple[Path, tuple[int, ...]]]:
        for name in _names(folder):
            if name.isdigit() and layout.may_hold((*parts, int(name)), since, until):
                yield folder / name, (*parts, int(name))

    for year, y in below(base, ()):
        for month, m in below(year, y):
            for day, _ in below(month, m):
                if day.is_dir():
                    yield day
