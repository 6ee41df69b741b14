"""The SQLite file under the state: connection, schema, and the one way writes and reads go.

WAL mode, so readers never wait for the writer; every write is one short ``BEGIN IMMEDIATE``
transaction; errors become :class:`~worker.errors.StateError` naming the file.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from worker.errors import StateError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    ttl_minutes INTEGER,
    last_poll_at REAL,
    last_success_at REAL,
    last_outcome TEXT,
    last_error TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_poll_at REAL
);
CREATE TABLE IF NOT EXISTS articles (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    url TEXT NOT NULL,
    feed_url TEXT,
    entry TEXT,
    fingerprint TEXT,
    status TEXT NOT NULL CHECK (status IN ('queued', 'archived', 'gone')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_try_at REAL NOT NULL DEFAULT 0,
    discovered_at REAL NOT NULL,
    archived_at REAL,
    path TEXT,
    content_hash TEXT,
    revision INTEGER,
    lease_owner TEXT,
    lease_until REAL,
    PRIMARY KEY (source, id)
);
CREATE TABLE IF NOT EXISTS robots (
    origin TEXT PRIMARY KEY,
    body TEXT,
    fetched_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS hosts (
    host TEXT PRIMARY KEY,
    next_start REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS backfill_files (
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    range_key TEXT NOT NULL,
    done_at REAL NOT NULL,
    PRIMARY KEY (source, url, range_key)
);
CREATE INDEX IF NOT EXISTS articles_due ON articles (status, source, next_try_at);
"""
SCHEMA_VERSION = "1"


class Database:
    """One connection to the state file. One instance per process; all calls from one thread."""

    def __init__(self, path: Path, *, check: bool = False) -> None:
        self.path = path
        self.created = not path.exists()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout = 30000")
            if check:
                verdict = self._db.execute("PRAGMA quick_check").fetchone()[0]
                if verdict != "ok":
                    raise sqlite3.DatabaseError(f"integrity check: {verdict}")
            self._db.execute("PRAGMA journal_mode = WAL")
            # WAL with synchronous=NORMAL survives any crash of the process; a power loss may
            # drop the last commits, which costs at most a refetch found unchanged.
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.executescript(SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (SCHEMA_VERSION,),
            )
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"state file {path} is unusable ({exc}); move it away and run "
                "'news-worker state rebuild' to rebuild it from the archive"
            ) from exc
        except OSError as exc:
            raise StateError(f"cannot create the state folder for {path}: {exc.strerror}") from exc

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
        return None if os.access(self.path, os.W_OK) else f"{self.path} is not writable"
