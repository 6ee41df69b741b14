"""State: the one owner of what was seen, in SQLite (WAL).

Feed validators and poll history, every article discovered (queued, archived or given up) with its
attempts, last error and next-try time, and a short lease per article so that a one-off ``fetch``
and the ``run`` service sharing one state never fetch the same article at once. Discovered entries
are committed before anything is fetched (nothing lost); an article's row is marked archived only
after its file is on disk (a crash in between means one refetch, found unchanged).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class FeedState:
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    consecutive_failures: int
    next_poll_at: float | None
    ttl_minutes: int | None = None
    last_poll_at: float | None = None


@dataclass(frozen=True)
class Discovered:
    """A feed entry about to be queued: identity, link, where it came from, its feed data."""

    id: str
    url: str
    feed_url: str | None
    entry: str | None
    fingerprint: str | None


@dataclass(frozen=True)
class QueueItem:
    source: str
    id: str
    url: str
    feed_url: str | None
    entry: str | None
    attempts: int
    path: str | None
    first_seen: float


class State:
    """The SQLite store. One instance per process; all calls from one thread."""

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
    def _write(self) -> Iterator[sqlite3.Connection]:
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

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._db.execute(sql, tuple(args)).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"state {self.path}: {exc}") from exc

    # feeds

    def feed(self, url: str) -> FeedState:
        rows = self._query(
            "SELECT etag, last_modified, body_hash, consecutive_failures, next_poll_at, "
            "ttl_minutes, last_poll_at FROM feeds WHERE url = ?",
            (url,),
        )
        if not rows:
            return FeedState(None, None, None, 0, None)
        row = rows[0]
        return FeedState(
            row["etag"],
            row["last_modified"],
            row["body_hash"],
            row["consecutive_failures"],
            row["next_poll_at"],
            row["ttl_minutes"],
            row["last_poll_at"],
        )

    def feed_polled(
        self,
        url: str,
        source: str,
        *,
        now: float,
        outcome: str,
        ok: bool,
        etag: str | None = None,
        last_modified: str | None = None,
        body_hash: str | None = None,
        ttl_minutes: int | None = None,
        error: str | None = None,
        next_poll_at: float | None = None,
    ) -> None:
        """Record a poll. On success, validators are stored when given (even for an unchanged
        body); on failure the failure count grows and validators are kept."""
        with self._write() as db:
            db.execute(
                "INSERT INTO feeds (url, source) VALUES (?, ?) ON CONFLICT (url) DO NOTHING",
                (url, source),
            )
            if ok:
                db.execute(
                    "UPDATE feeds SET source = ?, etag = COALESCE(?, etag), "
                    "last_modified = COALESCE(?, last_modified), body_hash = COALESCE(?, body_hash), "
                    "ttl_minutes = COALESCE(?, ttl_minutes), last_poll_at = ?, last_success_at = ?, "
                    "last_outcome = ?, last_error = NULL, consecutive_failures = 0, "
                    "next_poll_at = ? WHERE url = ?",
                    (
                        source,
                        etag,
                        last_modified,
                        body_hash,
                        ttl_minutes,
                        now,
                        now,
                        outcome,
                        next_poll_at,
                        url,
                    ),
                )
            else:
                db.execute(
                    "UPDATE feeds SET source = ?, last_poll_at = ?, last_outcome = ?, last_error = ?, "
                    "consecutive_failures = consecutive_failures + 1, next_poll_at = ? WHERE url = ?",
                    (source, now, outcome, error, next_poll_at, url),
                )

    def feeds_of(self, source: str) -> list[sqlite3.Row]:
        return self._query("SELECT * FROM feeds WHERE source = ? ORDER BY url", (source,))

    # robots.txt, kept across runs (the fetcher decides how long it is valid)

    def robots_get(self, origin: str) -> tuple[str | None, float] | None:
        rows = self._query("SELECT body, fetched_at FROM robots WHERE origin = ?", (origin,))
        return (rows[0]["body"], rows[0]["fetched_at"]) if rows else None

    def robots_put(self, origin: str, text: str | None, fetched_at: float) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO robots (origin, body, fetched_at) VALUES (?, ?, ?) "
                "ON CONFLICT (origin) DO UPDATE SET body = excluded.body, "
                "fetched_at = excluded.fetched_at",
                (origin, text, fetched_at),
            )

    # backfill progress: sitemap files whose URLs were queued, per date range

    def backfill_done(self, source: str, url: str, range_key: str) -> bool:
        return bool(
            self._query(
                "SELECT 1 FROM backfill_files WHERE source = ? AND url = ? AND range_key = ?",
                (source, url, range_key),
            )
        )

    def backfill_mark(self, source: str, url: str, range_key: str, now: float) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO backfill_files (source, url, range_key, done_at) "
                "VALUES (?, ?, ?, ?)",
                (source, url, range_key, now),
            )

    # articles

    def discover(self, source: str, items: Iterable[Discovered], now: float) -> tuple[int, int]:
        """Queue what is new, and archived articles whose feed entry changed: (new, requeued)."""
        new = requeued = 0
        with self._write() as db:
            for item in items:
                row = db.execute(
                    "SELECT status, fingerprint, feed_url FROM articles WHERE source = ? AND id = ?",
                    (source, item.id),
                ).fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO articles (source, id, url, feed_url, entry, fingerprint, status, "
                        "next_try_at, discovered_at) VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, ?)",
                        (
                            source,
                            item.id,
                            item.url,
                            item.feed_url,
                            item.entry,
                            item.fingerprint,
                            now,
                        ),
                    )
                    new += 1
                elif (
                    row["fingerprint"] is None
                    and item.fingerprint is not None
                    and row["feed_url"] in (None, item.feed_url)
                ):
                    # Rebuilt from the archive or fetched by --url: learn the entry, refetch
                    # nothing. Only from the feed the row names (any feed if none): another feed
                    # words the item differently, and its own feed would then see a change.
                    db.execute(
                        "UPDATE articles SET fingerprint = ?, feed_url = ?, "
                        "entry = COALESCE(entry, ?) WHERE source = ? AND id = ?",
                        (item.fingerprint, item.feed_url, item.entry, source, item.id),
                    )
                elif (
                    row["status"] == "archived"
                    and item.fingerprint is not None
                    and row["feed_url"] == item.feed_url
                    and row["fingerprint"] != item.fingerprint
                ):
                    # Only the feed that first brought the article compares its entry: feeds
                    # word the same item differently (/rss/all prefixes opinion titles).
                    db.execute(
                        "UPDATE articles SET status = 'queued', url = ?, feed_url = ?, entry = ?, "
                        "fingerprint = ?, attempts = 0, next_try_at = 0, last_error = NULL "
                        "WHERE source = ? AND id = ?",
                        (item.url, item.feed_url, item.entry, item.fingerprint, source, item.id),
                    )
                    requeued += 1
        return new, requeued

    def claim_due(
        self,
        source: str,
        now: float,
        owner: str,
        lease: float,
        limit: int = 10_000,
        ids: Iterable[str] | None = None,
        due_by: float | None = None,
    ) -> list[QueueItem]:
        """Lease the queued articles of ``source`` whose next try has come by ``due_by``
        (default ``now``), or the given ids."""
        due = now if due_by is None else min(due_by, now)
        if ids is None and not self._query(
            "SELECT 1 FROM articles WHERE status = 'queued' AND source = ? AND next_try_at <= ? "
            "LIMIT 1",
            (source, due),
        ):
            return []  # the usual case in a steady service: no write transaction at all
        with self._write() as db:
            if ids is None:
                rows = db.execute(
                    "SELECT * FROM articles WHERE status = 'queued' AND source = ? "
                    "AND next_try_at <= ? AND (lease_until IS NULL OR lease_until < ?) "
                    "ORDER BY next_try_at, discovered_at LIMIT ?",
                    (source, due, now, limit),
                ).fetchall()
            else:
                wanted = list(ids)
                rows = []
                for chunk_start in range(0, len(wanted), 500):
                    chunk = wanted[chunk_start : chunk_start + 500]
                    marks = ",".join("?" * len(chunk))
                    rows += db.execute(
                        f"SELECT * FROM articles WHERE source = ? AND id IN ({marks}) "
                        "AND status != 'gone' AND (lease_until IS NULL OR lease_until < ?)",
                        (source, *chunk, now),
                    ).fetchall()
            db.executemany(
                "UPDATE articles SET lease_owner = ?, lease_until = ? WHERE source = ? AND id = ?",
                [(owner, now + lease, source, row["id"]) for row in rows],
            )
        return [
            QueueItem(
                row["source"],
                row["id"],
                row["url"],
                row["feed_url"],
                row["entry"],
                row["attempts"],
                row["path"],
                row["discovered_at"],
            )
            for row in rows
        ]

    def release(self, source: str, article_id: str, owner: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE articles SET lease_owner = NULL, lease_until = NULL "
                "WHERE source = ? AND id = ? AND lease_owner = ?",
                (source, article_id, owner),
            )

    def reclaim_leases(self, is_dead: Callable[[str], bool]) -> int:
        """Free the leases of owners that are gone (a crashed process on this host)."""
        owners = [
            row[0]
            for row in self._query(
                "SELECT DISTINCT lease_owner FROM articles WHERE lease_owner IS NOT NULL"
            )
        ]
        dead = [owner for owner in owners if is_dead(owner)]
        if dead:
            with self._write() as db:
                db.executemany(
                    "UPDATE articles SET lease_owner = NULL, lease_until = NULL "
                    "WHERE lease_owner = ?",
                    [(owner,) for owner in dead],
                )
        return len(dead)

    def archived(
        self,
        source: str,
        article_id: str,
        *,
        path: str,
        content_hash: str,
        revision: int,
        now: float,
        url: str | None = None,
    ) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE articles SET status = 'archived', path = ?, content_hash = ?, revision = ?, "
                "archived_at = ?, attempts = 0, last_error = NULL, lease_owner = NULL, "
                "lease_until = NULL, url = COALESCE(?, url) WHERE source = ? AND id = ?",
                (path, content_hash, revision, now, url, source, article_id),
            )

    def archived_many(self, rows: Iterable[tuple[str, str, str, str, int]], now: float) -> None:
        """Mark many articles archived in one transaction: (source, id, path, hash, revision)."""
        with self._write() as db:
            db.executemany(
                "UPDATE articles SET status = 'archived', path = ?, content_hash = ?, revision = ?, "
                "archived_at = ?, attempts = 0, last_error = NULL, lease_owner = NULL, "
                "lease_until = NULL WHERE source = ? AND id = ?",
                [
                    (path, content_hash, revision, now, source, aid)
                    for source, aid, path, content_hash, revision in rows
                ],
            )

    def failed(
        self, source: str, article_id: str, *, error: str, next_try_at: float, give_up: bool
    ) -> None:
        """Count a failed try; the article stays queued until ``next_try_at``, or is given up."""
        with self._write() as db:
            db.execute(
                "UPDATE articles SET attempts = attempts + 1, last_error = ?, next_try_at = ?, "
                "status = CASE WHEN ? THEN 'gone' ELSE status END, "
                "lease_owner = NULL, lease_until = NULL WHERE source = ? AND id = ?",
                (error[:500], next_try_at, give_up, source, article_id),
            )

    def article(self, source: str, article_id: str) -> sqlite3.Row | None:
        rows = self._query(
            "SELECT * FROM articles WHERE source = ? AND id = ?", (source, article_id)
        )
        return rows[0] if rows else None

    def find_article(self, article_id: str) -> list[sqlite3.Row]:
        return self._query(
            "SELECT * FROM articles WHERE id = ? AND path IS NOT NULL", (article_id,)
        )

    def restore_archived(
        self, rows: Iterable[tuple[str, str, str, str, str | None, str, int]]
    ) -> int:
        """Mark archived articles found in the archive: (source, id, url, path, feed_url, hash,
        revision). Queued rows for them are settled; nothing else is touched."""
        count = 0
        with self._write() as db:
            for source, aid, url, path, feed_url, content_hash, revision in rows:
                db.execute(
                    "INSERT INTO articles (source, id, url, feed_url, status, discovered_at, "
                    "archived_at, path, content_hash, revision) "
                    "VALUES (?, ?, ?, ?, 'archived', 0, 0, ?, ?, ?) "
                    "ON CONFLICT (source, id) DO UPDATE SET status = 'archived', "
                    "path = excluded.path, content_hash = excluded.content_hash, "
                    "revision = excluded.revision, lease_owner = NULL, lease_until = NULL",
                    (source, aid, url, feed_url, path, content_hash, revision),
                )
                count += 1
        return count

    def counts(self, source: str) -> dict[str, int]:
        rows = self._query(
            "SELECT status, COUNT(*) AS n FROM articles WHERE source = ? GROUP BY status", (source,)
        )
        counts = {"queued": 0, "archived": 0, "gone": 0}
        counts.update({row["status"]: row["n"] for row in rows})
        return counts
