"""State of articles in PostgreSQL: the queue, fenced leases (claims with ``FOR UPDATE SKIP
LOCKED``, so replicas claim disjoint articles without waiting for each other), outcomes, counts
(kept by a trigger)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from worker.store.interfaces import (
    Archived,
    ArticleRow,
    Discovered,
    Lease,
    QueueItem,
    Restored,
)
from worker.store.postgres.db import Database
from worker.store.rows import article_row, entry_change, queue_item

_HELD = "source = %s AND id = %s AND lease_token = %s AND lease_owner IS NOT NULL"


class ArticleQueries(Database):
    def discover(self, source: str, items: Iterable[Discovered], now: float) -> tuple[int, int]:
        new = requeued = 0
        with self.write() as conn:
            for item in items:
                inserted = conn.execute(
                    "INSERT INTO articles (source, id, url, feed_url, entry, fingerprint, status, "
                    "next_try_at, discovered_at) VALUES (%s, %s, %s, %s, %s, %s, 'queued', 0, %s) "
                    "ON CONFLICT (source, id) DO NOTHING",
                    (source, item.id, item.url, item.feed_url, item.entry, item.fingerprint, now),
                ).rowcount
                if inserted:
                    new += 1
                    continue
                row = conn.execute(
                    "SELECT status, fingerprint, feed_url FROM articles "
                    "WHERE source = %s AND id = %s FOR UPDATE",
                    (source, item.id),
                ).fetchone()
                change = entry_change(row, item)
                if change == "learn":
                    conn.execute(
                        "UPDATE articles SET fingerprint = %s, feed_url = %s, entry = CASE WHEN "
                        "status = 'queued' THEN COALESCE(entry, %s) ELSE entry END "
                        "WHERE source = %s AND id = %s",
                        (item.fingerprint, item.feed_url, item.entry, source, item.id),
                    )
                elif change == "requeue":
                    conn.execute(
                        "UPDATE articles SET status = 'queued', url = %s, feed_url = %s, "
                        "entry = %s, fingerprint = %s, attempts = 0, next_try_at = 0, "
                        "last_error = NULL WHERE source = %s AND id = %s",
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
        if ids is None:
            if not self.query(
                "SELECT 1 FROM articles WHERE status = 'queued' AND source = %s "
                "AND next_try_at <= %s LIMIT 1",
                (source, due),
            ):
                return []
            which = "status = 'queued' AND next_try_at <= %s"
            args: tuple[Any, ...] = (due,)
        else:
            which = "status != 'gone' AND id = ANY(%s)"
            args = (list(ids),)
        rows = self.query(
            f"WITH due AS (SELECT source, id FROM articles WHERE source = %s AND {which} "
            "AND (lease_until IS NULL OR lease_until < %s) ORDER BY next_try_at, discovered_at "
            "LIMIT %s FOR UPDATE SKIP LOCKED) "
            "UPDATE articles a SET lease_owner = %s, lease_until = %s, "
            "lease_token = COALESCE(a.lease_token, 0) + 1 FROM due "
            "WHERE a.source = due.source AND a.id = due.id RETURNING a.*",
            (source, *args, now, limit, owner, now + ttl),
        )
        rows.sort(key=lambda r: (r["next_try_at"], r["discovered_at"]))
        return [queue_item(row, int(row["lease_token"])) for row in rows]

    def renew(self, leases: Iterable[Lease], now: float, ttl: float) -> list[Lease]:
        held = list(leases)
        if not held:
            return []
        rows = self.query(
            "UPDATE articles a SET lease_until = %s "
            "FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS l(source, id, token) "
            "WHERE a.source = l.source AND a.id = l.id AND a.lease_token = l.token "
            "AND a.lease_owner IS NOT NULL RETURNING a.source, a.id",
            (now + ttl, [h.source for h in held], [h.id for h in held], [h.token for h in held]),
        )
        renewed = {(row["source"], row["id"]) for row in rows}
        return [h for h in held if (h.source, h.id) not in renewed]

    def release(self, lease: Lease) -> bool:
        with self.write() as conn:
            return bool(
                conn.execute(
                    f"UPDATE articles SET lease_owner = NULL, lease_until = NULL WHERE {_HELD}",
                    (lease.source, lease.id, lease.token),
                ).rowcount
            )

    def reclaim_leases(self, is_dead: Callable[[str], bool]) -> int:
        # Articles' leases and feeds' poll leases alike: a feed a dead process had claimed
        # would wait out the lease (60 s by default) before anyone polled it again.
        owners = [
            row["lease_owner"]
            for row in self.query(
                "SELECT lease_owner FROM articles WHERE lease_owner IS NOT NULL "
                "UNION SELECT poll_owner FROM feeds WHERE poll_owner IS NOT NULL"
            )
        ]
        dead = [owner for owner in owners if is_dead(owner)]
        if dead:
            with self.write() as conn:
                conn.execute(
                    "UPDATE articles SET lease_owner = NULL, lease_until = NULL "
                    "WHERE lease_owner = ANY(%s)",
                    (dead,),
                )
                conn.execute(
                    "UPDATE feeds SET poll_owner = NULL, poll_until = NULL "
                    "WHERE poll_owner = ANY(%s)",
                    (dead,),
                )
        return len(dead)

    def archived_many(self, rows: Iterable[Archived], now: float) -> list[Archived]:
        refused = []
        with self.write() as conn:
            for r in rows:
                done = conn.execute(
                    "UPDATE articles SET status = 'archived', path = %s, content_hash = %s, "
                    "revision = %s, archived_at = %s, attempts = 0, last_error = NULL, "
                    "lease_owner = NULL, lease_until = NULL, url = COALESCE(%s, url), "
                    f"entry = NULL WHERE {_HELD}",
                    (r.path, r.content_hash, r.revision, now, r.url, r.source, r.id, r.token),
                ).rowcount
                if not done:
                    refused.append(r)
        return refused

    def revised(self, rows: Iterable[Archived]) -> None:
        with self.write() as conn, conn.cursor() as cursor:
            cursor.executemany(
                "UPDATE articles SET path = %s, content_hash = %s, revision = %s "
                "WHERE source = %s AND id = %s",
                [(r.path, r.content_hash, r.revision, r.source, r.id) for r in rows],
            )

    def failed(self, lease: Lease, *, error: str, next_try_at: float, give_up: bool) -> bool:
        with self.write() as conn:
            return bool(
                conn.execute(
                    "UPDATE articles SET attempts = attempts + 1, last_error = %s, "
                    "next_try_at = %s, status = CASE WHEN %s THEN 'gone' ELSE status END, "
                    f"lease_owner = NULL, lease_until = NULL WHERE {_HELD}",
                    (error[:500], next_try_at, give_up, lease.source, lease.id, lease.token),
                ).rowcount
            )

    def article(self, source: str, article_id: str) -> ArticleRow | None:
        rows = self.query(
            "SELECT * FROM articles WHERE source = %s AND id = %s", (source, article_id)
        )
        return article_row(rows[0]) if rows else None

    def find_article(self, article_id: str) -> list[ArticleRow]:
        rows = self.query(
            "SELECT * FROM articles WHERE id = %s AND path IS NOT NULL ORDER BY source",
            (article_id,),
        )
        return [article_row(row) for row in rows]

    def restore_archived(self, rows: Iterable[Restored]) -> int:
        count = 0
        with self.write() as conn:
            for r in rows:
                conn.execute(
                    "INSERT INTO articles (source, id, url, feed_url, status, discovered_at, "
                    "archived_at, path, content_hash, revision) "
                    "VALUES (%s, %s, %s, %s, 'archived', 0, 0, %s, %s, %s) "
                    "ON CONFLICT (source, id) DO UPDATE SET status = 'archived', "
                    "path = excluded.path, content_hash = excluded.content_hash, "
                    "revision = excluded.revision, lease_owner = NULL, lease_until = NULL",
                    (r.source, r.id, r.url, r.feed_url, r.path, r.content_hash, r.revision),
                )
                count += 1
        return count

    def counts(self, source: str) -> dict[str, int]:
        rows = self.query("SELECT status, n FROM article_counts WHERE source = %s", (source,))
        counts = {"queued": 0, "archived": 0, "gone": 0}
        counts.update({row["status"]: int(row["n"]) for row in rows})
        return counts

    def queue_reasons(self, source: str) -> dict[str, int]:
        rows = self.query(
            "SELECT split_part(COALESCE(last_error, ''), ':', 1) AS reason, COUNT(*) AS n "
            "FROM articles WHERE status = 'queued' AND source = %s GROUP BY 1",
            (source,),
        )
        return {row["reason"]: int(row["n"]) for row in rows}

    def due_urls(self, source: str, now: float, limit: int) -> list[str]:
        rows = self.query(
            "SELECT url FROM articles WHERE status = 'queued' AND source = %s "
            "AND next_try_at <= %s AND (lease_until IS NULL OR lease_until < %s) "
            "ORDER BY next_try_at, discovered_at LIMIT %s",
            (source, now, now, limit),
        )
        return [row["url"] for row in rows]
