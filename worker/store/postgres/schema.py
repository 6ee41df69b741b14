"""The PostgreSQL state's schema, by numbered steps the program applies itself when it connects
(as the SQLite state does, :mod:`worker.store.sqlite.schema`): each step once, in order, in one
transaction that also records the new version, under an advisory lock so that replicas starting
together upgrade once. No migration tool: the steps are few and plain SQL, and a worker that
upgrades its own schema must not depend on a tool run by hand."""

from __future__ import annotations

from typing import Any

from worker.errors import StateError

LOCK = 0x6E657773  # "news": the advisory lock the steps take

V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE feeds (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    ttl_minutes INTEGER,
    last_poll_at DOUBLE PRECISION,
    last_success_at DOUBLE PRECISION,
    last_outcome TEXT,
    last_error TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_poll_at DOUBLE PRECISION,
    poll_owner TEXT,
    poll_until DOUBLE PRECISION,
    active BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX feeds_due ON feeds (next_poll_at);
CREATE TABLE articles (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    url TEXT NOT NULL,
    feed_url TEXT,
    entry TEXT,
    fingerprint TEXT,
    status TEXT NOT NULL CHECK (status IN ('queued', 'archived', 'gone')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_try_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    discovered_at DOUBLE PRECISION NOT NULL,
    archived_at DOUBLE PRECISION,
    path TEXT,
    content_hash TEXT,
    revision INTEGER,
    lease_owner TEXT,
    lease_until DOUBLE PRECISION,
    lease_token BIGINT,
    PRIMARY KEY (source, id)
);
CREATE INDEX articles_due ON articles (status, source, next_try_at);
CREATE INDEX articles_by_id ON articles (id);
CREATE INDEX articles_leased ON articles (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE TABLE robots (origin TEXT PRIMARY KEY, body TEXT, fetched_at DOUBLE PRECISION NOT NULL);
CREATE TABLE hosts (host TEXT PRIMARY KEY, next_start DOUBLE PRECISION NOT NULL);
CREATE TABLE backfill_files (
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    range_key TEXT NOT NULL,
    done_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (source, url, range_key)
);
CREATE TABLE article_counts (
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (source, status)
);
CREATE FUNCTION news_worker_count_articles() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE article_counts SET n = n - 1 WHERE source = OLD.source AND status = OLD.status;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO article_counts (source, status, n) VALUES (NEW.source, NEW.status, 1)
            ON CONFLICT (source, status) DO UPDATE SET n = article_counts.n + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER articles_counted AFTER INSERT OR DELETE ON articles
    FOR EACH ROW EXECUTE FUNCTION news_worker_count_articles();
CREATE TRIGGER articles_counted_update AFTER UPDATE OF status ON articles
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION news_worker_count_articles();
"""

STEPS: tuple[str, ...] = (V1,)
VERSION = len(STEPS)


def _version(conn: Any) -> int:
    if conn.execute("SELECT to_regclass('meta') IS NOT NULL AS present").fetchone()["present"]:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row["value"]) if row else 0
    return 0


def migrate(conn: Any) -> int:
    """Bring the schema to :data:`VERSION`; returns the version found before (0: new)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
        found = _version(conn)
        if found > VERSION:
            raise StateError(
                f"the state was written by a newer news-worker (schema {found}, this one knows "
                f"{VERSION}): upgrade news-worker"
            )
        for number in range(found + 1, VERSION + 1):
            conn.execute(STEPS[number - 1])
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(number),),
            )
    return found
