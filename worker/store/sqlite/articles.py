"""State of articles: the queue with attempts and next tries, leases, outcomes, counts."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from worker.store.interfaces import (
    Archived,
    ArticleRow,
    Discovered,
    Lease,
    QueueItem,
    Restored,
)
from worker.store.rows import article_row, entry_change, queue_item
from worker.store.sqlite.db import Database

# A write that ends a lease names it: the row is still held by that claim.
_HELD = "source = ? AND id = ? AND lease_token = ? AND lease_owner IS NOT NULL"


class ArticleQueries(Database):
    def discover(self, source: str, items: Iterable[Discovered], now: float) -> tuple[int, int]:
        """Queue what is new, and archived articles whose feed entry changed: (new, requeued)."""
        new = requeued = 0
        with self.write() as db:
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
                    continue
                change = entry_change(row, item)
                if change == "learn":
                    db.execute(
                        "UPDATE articles SET fingerprint = ?, feed_url = ?, entry = CASE WHEN "
                        "status = 'queued' THEN COALESCE(entry, ?) ELSE entry END "
                        "WHERE source = ? AND id = ?",
                        (item.fingerprint, item.feed_url, item.entry, source, item.id),
                    )
                elif change == "requeue":
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
        ttl: float,
        limit: int = 10_000,
        ids: Iterable[str] | None = None,
        due_by: float | None = None,
    ) -> list[QueueItem]:
        due = now if due_by is None else min(due_by, now)
        if ids is None and not self.query(
            "SELECT 1 FROM articles WHERE status = 'queued' AND source = ? AND next_try_at <= ? "
            "LIMIT 1",
            (source, due),
        ):
            return []  # the usual case in a steady service: no write transaction at all
        with self.write() as db:
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
                "UPDATE articles SET lease_owner = ?, lease_until = ?, "
                "lease_token = COALESCE(lease_token, 0) + 1 WHERE source = ? AND id = ?",
                [(owner, now + ttl, source, row["id"]) for row in rows],
            )
        return [queue_item(row, (row["lease_token"] or 0) + 1) for row in rows]

    def renew(self, leases: Iterable[Lease], now: float, ttl: float) -> list[Lease]:
        lost = []
        with self.write() as db:
            for lease in leases:
                renewed = db.execute(
                    "UPDATE articles SET lease_until = ? "
                    "WHERE source = ? AND id = ? AND lease_token = ? AND lease_owner IS NOT NULL",
                    (now + ttl, lease.source, lease.id, lease.token),
                ).rowcount
                if not renewed:
                    lost.append(lease)
        return lost

    def release(self, lease: Lease) -> bool:
        with self.write() as db:
            return bool(
                db.execute(
                    f"UPDATE articles SET lease_owner = NULL, lease_until = NULL WHERE {_HELD}",
                    (lease.source, lease.id, lease.token),
                ).rowcount
            )

    def reclaim_leases(self, is_dead: Callable[[str], bool]) -> int:
        # Articles' leases and feeds' poll leases alike: a feed a dead process had claimed
        # would wait out the lease (60 s by default) before anyone polled it again.
        owners = [
            row[0]
            for row in self.query(
                "SELECT lease_owner FROM articles WHERE lease_owner IS NOT NULL "
                "UNION SELECT poll_owner FROM feeds WHERE poll_owner IS NOT NULL"
            )
        ]
        dead = [owner for owner in owners if is_dead(owner)]
        if dead:
            with self.write() as db:
                db.executemany(
                    "UPDATE articles SET lease_owner = NULL, lease_until = NULL "
                    "WHERE lease_owner = ?",
                    [(owner,) for owner in dead],
                )
                db.executemany(
                    "UPDATE feeds SET poll_owner = NULL, poll_until = NULL WHERE poll_owner = ?",
                    [(owner,) for owner in dead],
                )
        return len(dead)

    def archived_many(self, rows: Iterable[Archived], now: float) -> list[Archived]:
        refused = []
        with self.write() as db:
            for r in rows:
                done = db.execute(
                    "UPDATE articles SET status = 'archived', path = ?, content_hash = ?, "
                    "revision = ?, archived_at = ?, attempts = 0, last_error = NULL, "
                    "lease_owner = NULL, lease_until = NULL, url = COALESCE(?, url), "
                    f"entry = NULL WHERE {_HELD}",
                    (r.path, r.content_hash, r.revision, now, r.url, r.source, r.id, r.token),
                ).rowcount
                if not done:
                    refused.append(r)
        return refused

    def revised(self, rows: Iterable[Archived]) -> None:
        with self.write() as db:
            db.executemany(
                "UPDATE articles SET path = ?, content_hash = ?, revision = ? "
                "WHERE source = ? AND id = ?",
                [(r.path, r.content_hash, r.revision, r.source, r.id) for r in rows],
            )

    def failed(self, lease: Lease, *, error: str, next_try_at: float, give_up: bool) -> bool:
        with self.write() as db:
            return bool(
                db.execute(
                    "UPDATE articles SET attempts = attempts + 1, last_error = ?, next_try_at = ?, "
                    "status = CASE WHEN ? THEN 'gone' ELSE status END, "
                    f"lease_owner = NULL, lease_until = NULL WHERE {_HELD}",
                    (error[:500], next_try_at, give_up, lease.source, lease.id, lease.token),
                ).rowcount
            )

    def article(self, source: str, article_id: str) -> ArticleRow | None:
        rows = self.query(
            "SELECT * FROM articles WHERE source = ? AND id = ?", (source, article_id)
        )
        return article_row(rows[0]) if rows else None

    def find_article(self, article_id: str) -> list[ArticleRow]:
        rows = self.query("SELECT * FROM articles WHERE id = ? AND path IS NOT NULL", (article_id,))
        return [article_row(row) for row in rows]

    def restore_archived(self, rows: Iterable[Restored]) -> int:
        """Mark archived articles found in the archive. Queued rows for them are settled;
        nothing else is touched."""
        count = 0
        with self.write() as db:
            for r in rows:
                db.execute(
                    "INSERT INTO articles (source, id, url, feed_url, status, discovered_at, "
                    "archived_at, path, content_hash, revision) "
                    "VALUES (?, ?, ?, ?, 'archived', 0, 0, ?, ?, ?) "
                    "ON CONFLICT (source, id) DO UPDATE SET status = 'archived', "
                    "path = excluded.path, content_hash = excluded.content_hash, "
                    "revision = excluded.revision, lease_owner = NULL, lease_until = NULL",
                    (r.source, r.id, r.url, r.feed_url, r.path, r.content_hash, r.revision),
                )
                count += 1
        return count

    def counts(self, source: str) -> dict[str, int]:
        """Kept by triggers on every status change: a read of three rows, however big."""
        rows = self.query("SELECT status, n FROM article_counts WHERE source = ?", (source,))
        counts = {"queued": 0, "archived": 0, "gone": 0}
        counts.update({row["status"]: row["n"] for row in rows})
        return counts

    def queue_reasons(self, source: str) -> dict[str, int]:
        rows = self.query(
            "SELECT CASE WHEN last_error IS NULL THEN '' "
            "ELSE substr(last_error, 1, instr(last_error || ':', ':') - 1) END AS reason, "
            "COUNT(*) AS n FROM articles WHERE status = 'queued' AND source = ? GROUP BY 1",
            (source,),
        )
        return {row["reason"]: row["n"] for row in rows}

    def due_urls(self, source: str, now: float, limit: int) -> list[str]:
        rows = self.query(
            "SELECT url FROM articles WHERE status = 'queued' AND source = ? AND next_try_at <= ? "
            "AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_try_at, discovered_at "
            "LIMIT ?",
            (source, now, now, limit),
        )
        return [row["url"] for row in rows]
