"""State of feeds: validators and poll history; the robots.txt cache; the next allowed request
start per host (politeness across processes); backfill progress."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence

from worker.store.interfaces import FeedRow, FeedState
from worker.store.rows import booking_totals, booking_waits, feed_row, feed_state
from worker.store.sqlite.db import Database


class FeedQueries(Database):
    def feed(self, url: str) -> FeedState:
        rows = self.query(
            "SELECT etag, last_modified, body_hash, consecutive_failures, next_poll_at, "
            "ttl_minutes, last_poll_at FROM feeds WHERE url = ?",
            (url,),
        )
        return feed_state(rows[0] if rows else None)

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
        with self.write() as db:
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
                    "next_poll_at = ?, poll_owner = NULL, poll_until = NULL WHERE url = ?",
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
                    "consecutive_failures = consecutive_failures + 1, next_poll_at = ?, "
                    "poll_owner = NULL, poll_until = NULL WHERE url = ?",
                    (source, now, outcome, error, next_poll_at, url),
                )

    def feeds_of(self, source: str) -> list[FeedRow]:
        rows = self.query("SELECT * FROM feeds WHERE source = ? ORDER BY url", (source,))
        return [feed_row(row) for row in rows]

    def register_feeds(self, feeds: Iterable[tuple[str, str]]) -> None:
        wanted = list(dict.fromkeys(feeds))
        with self.write() as db:
            for source in {source for _, source in wanted}:
                db.execute("UPDATE feeds SET active = 0 WHERE source = ?", (source,))
            db.executemany(
                "INSERT INTO feeds (url, source) VALUES (?, ?) ON CONFLICT (url) DO UPDATE "
                "SET source = excluded.source, active = 1",
                wanted,
            )

    def claim_feeds(
        self, sources: Collection[str], now: float, owner: str, ttl: float, limit: int
    ) -> list[str]:
        names = list(sources)
        if not names or limit <= 0:
            return []
        marks = ",".join("?" * len(names))
        due = (
            f"SELECT url FROM feeds WHERE active = 1 AND source IN ({marks}) "
            "AND (next_poll_at IS NULL OR next_poll_at <= ?) "
            "AND (poll_until IS NULL OR poll_until < ?) ORDER BY next_poll_at LIMIT ?"
        )
        args = (*names, now, now, limit)
        if not self.query(due, args):
            return []  # the usual tick: nothing due, no write transaction
        with self.write() as db:
            urls = [row[0] for row in db.execute(due, args).fetchall()]
            db.executemany(
                "UPDATE feeds SET poll_owner = ?, poll_until = ? WHERE url = ?",
                [(owner, now + ttl, url) for url in urls],
            )
        return urls

    # robots.txt, kept across runs (the fetcher decides how long it is valid)

    def robots_get(self, origin: str) -> tuple[str | None, float] | None:
        rows = self.query("SELECT body, fetched_at FROM robots WHERE origin = ?", (origin,))
        return (rows[0]["body"], rows[0]["fetched_at"]) if rows else None

    def robots_put(self, origin: str, text: str | None, fetched_at: float) -> None:
        with self.write() as db:
            db.execute(
                "INSERT INTO robots (origin, body, fetched_at) VALUES (?, ?, ?) "
                "ON CONFLICT (origin) DO UPDATE SET body = excluded.body, "
                "fetched_at = excluded.fetched_at",
                (origin, text, fetched_at),
            )

    # politeness shared by every process on this state

    def reserve_hosts(self, bookings: Sequence[tuple[str, float]]) -> list[float]:
        now = time.time()
        first: dict[str, float] = {}
        with self.write() as db:
            for host, total in booking_totals(bookings).items():
                row = db.execute("SELECT next_start FROM hosts WHERE host = ?", (host,)).fetchone()
                start = max(now, row[0]) if row is not None else now
                db.execute(
                    "INSERT INTO hosts (host, next_start) VALUES (?, ?) "
                    "ON CONFLICT (host) DO UPDATE SET next_start = excluded.next_start",
                    (host, start + total),
                )
                first[host] = start - now
        return booking_waits(bookings, first)

    # backfill progress, per date range: sitemap files queued, indexes walked to the end

    def backfill_done(self, source: str, url: str, range_key: str) -> bool:
        return bool(
            self.query(
                "SELECT 1 FROM backfill_files WHERE source = ? AND url = ? AND range_key = ?",
                (source, url, range_key),
            )
        )

    def backfill_visited(self, source: str, range_key: str) -> set[str]:
        rows = self.query(
            "SELECT url FROM backfill_files WHERE source = ? AND range_key = ?", (source, range_key)
        )
        return {row["url"] for row in rows}

    def backfill_mark(self, source: str, url: str, range_key: str, now: float) -> None:
        with self.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO backfill_files (source, url, range_key, done_at) "
                "VALUES (?, ?, ?, ?)",
                (source, url, range_key, now),
            )
