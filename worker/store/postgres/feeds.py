"""State of feeds in PostgreSQL: validators, poll history, the schedule replicas share (due
feeds claimed with ``FOR UPDATE SKIP LOCKED``), robots.txt, host bookings, backfill progress."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from worker.store.interfaces import FeedRow, FeedState
from worker.store.postgres.db import Database
from worker.store.rows import booking_totals, booking_waits, feed_row, feed_state

# The database's clock when the statement started: one reading for the whole statement.
_NOW = "extract(epoch from statement_timestamp())"


class FeedQueries(Database):
    def feed(self, url: str) -> FeedState:
        rows = self.query(
            "SELECT etag, last_modified, body_hash, consecutive_failures, next_poll_at, "
            "ttl_minutes, last_poll_at FROM feeds WHERE url = %s",
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
        with self.write() as conn:
            conn.execute(
                "INSERT INTO feeds (url, source) VALUES (%s, %s) ON CONFLICT (url) DO NOTHING",
                (url, source),
            )
            if ok:
                conn.execute(
                    "UPDATE feeds SET source = %s, etag = COALESCE(%s, etag), "
                    "last_modified = COALESCE(%s, last_modified), "
                    "body_hash = COALESCE(%s, body_hash), ttl_minutes = COALESCE(%s, ttl_minutes), "
                    "last_poll_at = %s, last_success_at = %s, last_outcome = %s, last_error = NULL, "
                    "consecutive_failures = 0, next_poll_at = %s, poll_owner = NULL, "
                    "poll_until = NULL WHERE url = %s",
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
                conn.execute(
                    "UPDATE feeds SET source = %s, last_poll_at = %s, last_outcome = %s, "
                    "last_error = %s, consecutive_failures = consecutive_failures + 1, "
                    "next_poll_at = %s, poll_owner = NULL, poll_until = NULL WHERE url = %s",
                    (source, now, outcome, error, next_poll_at, url),
                )

    def feeds_of(self, source: str) -> list[FeedRow]:
        rows = self.query("SELECT * FROM feeds WHERE source = %s ORDER BY url", (source,))
        return [feed_row(row) for row in rows]

    def register_feeds(self, feeds: Iterable[tuple[str, str]]) -> None:
        wanted = list(dict.fromkeys(feeds))
        with self.write() as conn:
            sources = sorted({source for _, source in wanted})
            conn.execute("UPDATE feeds SET active = FALSE WHERE source = ANY(%s)", (sources,))
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO feeds (url, source) VALUES (%s, %s) ON CONFLICT (url) DO UPDATE "
                    "SET source = excluded.source, active = TRUE",
                    wanted,
                )

    def claim_feeds(
        self, sources: Collection[str], now: float, owner: str, ttl: float, limit: int
    ) -> list[str]:
        if not sources or limit <= 0:
            return []
        rows = self.query(
            "WITH due AS (SELECT url FROM feeds WHERE active AND source = ANY(%s) "
            "AND (next_poll_at IS NULL OR next_poll_at <= %s) "
            "AND (poll_until IS NULL OR poll_until < %s) ORDER BY next_poll_at NULLS FIRST "
            "LIMIT %s FOR UPDATE SKIP LOCKED) "
            "UPDATE feeds f SET poll_owner = %s, poll_until = %s FROM due WHERE f.url = due.url "
            "RETURNING f.url",
            (list(sources), now, now, limit, owner, now + ttl),
        )
        return [row["url"] for row in rows]

    def robots_get(self, origin: str) -> tuple[str | None, float] | None:
        rows = self.query("SELECT body, fetched_at FROM robots WHERE origin = %s", (origin,))
        return (rows[0]["body"], rows[0]["fetched_at"]) if rows else None

    def robots_put(self, origin: str, text: str | None, fetched_at: float) -> None:
        with self.write() as conn:
            conn.execute(
                "INSERT INTO robots (origin, body, fetched_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (origin) DO UPDATE SET body = excluded.body, "
                "fetched_at = excluded.fetched_at",
                (origin, text, fetched_at),
            )

    def reserve_hosts(self, bookings: Sequence[tuple[str, float]]) -> list[float]:
        # The database's clock, not ours: every machine books on the same one. One statement
        # for the batch; a host's bookings in it are added up (a row is updated once).
        totals = booking_totals(bookings)
        rows = self.query(
            f"INSERT INTO hosts (host, next_start) SELECT b.host, {_NOW} + b.gap "
            "FROM unnest(%s::text[], %s::float8[]) AS b(host, gap) "
            "ON CONFLICT (host) DO UPDATE SET next_start = GREATEST("
            f"hosts.next_start + (excluded.next_start - {_NOW}), excluded.next_start) "
            f"RETURNING host, next_start - {_NOW} AS ahead",
            (list(totals), list(totals.values())),
        )
        first = {row["host"]: float(row["ahead"]) - totals[row["host"]] for row in rows}
        return booking_waits(bookings, first)

    def backfill_done(self, source: str, url: str, range_key: str) -> bool:
        return bool(
            self.query(
                "SELECT 1 FROM backfill_files WHERE source = %s AND url = %s AND range_key = %s",
                (source, url, range_key),
            )
        )

    def backfill_visited(self, source: str, range_key: str) -> set[str]:
        rows = self.query(
            "SELECT url FROM backfill_files WHERE source = %s AND range_key = %s",
            (source, range_key),
        )
        return {row["url"] for row in rows}

    def backfill_mark(self, source: str, url: str, range_key: str, now: float) -> None:
        with self.write() as conn:
            conn.execute(
                "INSERT INTO backfill_files (source, url, range_key, done_at) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (source, url, range_key) "
                "DO UPDATE SET done_at = excluded.done_at",
                (source, url, range_key, now),
            )
