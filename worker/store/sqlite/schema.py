"""The state's schema, created and migrated by numbered steps that the program applies itself
when it opens the file: each step runs once, in order, in one transaction with the new version
number, so an interrupted upgrade leaves the previous version intact. A state written by a newer
version is refused rather than guessed at.

Plain SQL steps in the package, no migration tool: the schema is small, SQLite's ``ALTER TABLE``
does what the steps need, and a program that upgrades its own file must not depend on a tool
the user runs by hand.
"""

from __future__ import annotations

import sqlite3

from worker.errors import StateError

V1 = """
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

# 2: politeness booked per host across processes; fenced leases (a token per claim); article
# counts kept by triggers, so reading them does not grow with the archive.
V2 = """
CREATE TABLE hosts (host TEXT PRIMARY KEY, next_start REAL NOT NULL);
ALTER TABLE articles ADD COLUMN lease_token INTEGER;
CREATE TABLE article_counts (
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (source, status)
);
INSERT INTO article_counts (source, status, n)
    SELECT source, status, COUNT(*) FROM articles GROUP BY source, status;
CREATE TRIGGER articles_counted_insert AFTER INSERT ON articles BEGIN
    INSERT INTO article_counts (source, status, n) VALUES (NEW.source, NEW.status, 1)
        ON CONFLICT (source, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER articles_counted_update AFTER UPDATE OF status ON articles
WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE article_counts SET n = n - 1 WHERE source = OLD.source AND status = OLD.status;
    INSERT INTO article_counts (source, status, n) VALUES (NEW.source, NEW.status, 1)
        ON CONFLICT (source, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER articles_counted_delete AFTER DELETE ON articles BEGIN
    UPDATE article_counts SET n = n - 1 WHERE source = OLD.source AND status = OLD.status;
END;
CREATE INDEX articles_leased ON articles (lease_owner) WHERE lease_owner IS NOT NULL;
"""

# 3: the schedule lives in the state: any replica claims a due feed for one poll.
V3 = """
ALTER TABLE feeds ADD COLUMN poll_owner TEXT;
ALTER TABLE feeds ADD COLUMN poll_until REAL;
ALTER TABLE feeds ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
CREATE INDEX feeds_due ON feeds (next_poll_at);
"""

STEPS: tuple[str, ...] = (V1, V2, V3)
VERSION = len(STEPS)


def version_of(db: sqlite3.Connection) -> int:
    has_meta = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not has_meta:
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(db: sqlite3.Connection) -> int:
    """Bring the schema to :data:`VERSION`; returns the version found before."""
    found = version_of(db)
    if found > VERSION:
        raise StateError(
            f"the state was written by a newer news-worker (schema {found}, this one knows "
            f"{VERSION}): upgrade news-worker"
        )
    for number in range(found + 1, VERSION + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            if version_of(db) >= number:  # another process did it meanwhile
                db.execute("ROLLBACK")
                continue
            for statement in _statements(STEPS[number - 1]):
                db.execute(statement)
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(number),),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return found


def _statements(script: str) -> list[str]:
    """The statements of a step, trigger bodies kept whole."""
    statements, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements
