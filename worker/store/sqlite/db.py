"""The SQLite file under the state: connection, schema, and the one way writes and reads go.

WAL mode, so readers never wait for the writer; every write is one short ``BEGIN IMMEDIATE``
transaction; errors become :class:`~worker.errors.StateError` naming the file. The schema is
created and migrated by :mod:`.schema` when the file is opened.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from worker.errors import StateError
from worker.store.sqlite.schema import migrate

BUSY_SECONDS = 30.0  # how long a statement waits for another process's lock


class Database:
    """One connection to the state file; one instance per process, used by one thread at a time."""

    def __init__(self, path: Path, *, check: bool = False) -> None:
        self.path = path
        self.created = not path.exists()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # One thread at a time uses it (the state thread of worker.store.offloop, or a command's).
            self._db = sqlite3.connect(
                path, isolation_level=None, timeout=BUSY_SECONDS, check_same_thread=False
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
            if check:
                verdict = self._db.execute("PRAGMA quick_check").fetchone()[0]
                if verdict != "ok":
                    raise sqlite3.DatabaseError(f"integrity check: {verdict}")
            _wal(self._db)
            # WAL with synchronous=NORMAL survives any crash of the process; a power loss may
            # drop the last commits, which costs at most a refetch found unchanged.
            self._db.execute("PRAGMA synchronous = NORMAL")
            migrate(self._db)
        except sqlite3.DatabaseError as exc:
            # A folder or file that cannot be written fails the same way as a damaged file
            # ("unable to open database file", "attempt to write a readonly database"): tell
            # them apart before suggesting a rebuild.
            why = unwritable(path)
            if why is not None:
                raise StateError(
                    f"cannot write the state file {path}: {why}", reason="not_writable"
                ) from exc
            raise StateError(
                f"state file {path} is unusable ({exc}); move it away and run "
                "'news-worker state rebuild' to rebuild it from the archive"
            ) from exc
        except OSError as exc:
            raise StateError(
                f"cannot create the state folder for {path}: {exc.strerror}", reason="not_writable"
            ) from exc

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StateError(f"state {self.path}: {exc}") from exc
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StateError(f"state {self.path}: {exc}") from exc

    def query(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._db.execute(sql, tuple(args)).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"state {self.path}: {exc}") from exc

    def writable(self) -> str | None:
        why = unwritable(self.path)
        return None if why is None else f"{self.path}: {why}"


def _wal(db: sqlite3.Connection) -> None:
    """Put the file in WAL mode. Switching takes an exclusive lock and SQLite does not wait for
    it (no busy handler): while another process creates the same file, the switch fails at once
    with "database is locked" (two commands started together on a new state). Try again until
    the busy timeout, as any other statement would wait."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def unwritable(path: Path) -> str | None:
    """Why the state file or its folder cannot be written (None: they can). The folder must take
    new files (SQLite creates the -wal and -shm files beside the state), the files must be
    writable: a read-only mount or missing permissions show here, as the operating system says.

    The files themselves are never opened: POSIX locks belong to the process, and closing any
    descriptor of a file drops them all, so a check that opened and closed the state file (every
    ``/readyz``) took SQLite's locks from its open connection; the next process to close its own
    connection then took itself for the last one and deleted the WAL under us."""
    probe = path.parent / f".{path.name}.probe-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600))
        os.unlink(probe)
    except OSError as exc:
        return exc.strerror or str(exc)
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name.exists() and not os.access(name, os.W_OK):
            try:
                read_only = os.statvfs(name).f_flag & os.ST_RDONLY
            except OSError:
                read_only = False
            return "Read-only file system" if read_only else f"{name.name}: Permission denied"
    return None
