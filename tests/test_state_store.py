"""The state store's contract, run against every implementation (``tests/stores.py``): the
queue, leases, change detection of archived articles, feeds, robots.txt and backfill progress."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import pytest

from worker.errors import StateError
from worker.ingest.leases import owner_is_dead
from worker.store.interfaces import Archived, Discovered, Lease, Restored, StateStore
from worker.store.offloop import AsyncState
from worker.store.sqlite import SqliteState


def test_queue_discover_claim_fail_archive(state_store: StateStore) -> None:
    state = state_store
    item = Discovered("a1", "https://x/a1", "https://x/rss", None, "fp1")
    assert state.discover("mt", [item, item], 100.0) == (1, 0)
    claimed = state.claim_due("mt", 100.0, "me", 60)
    assert [c.id for c in claimed] == ["a1"]
    assert state.claim_due("mt", 100.0, "other", 60) == []  # leased
    failed = state.failed(
        claimed[0].lease, error="http_500: boom", next_try_at=200.0, give_up=False
    )
    assert failed
    assert state.claim_due("mt", 150.0, "me", 60) == []  # not due yet
    again = state.claim_due("mt", 200.0, "me", 60)
    assert [c.attempts for c in again] == [1]
    assert (
        state.archived_many([Archived("mt", "a1", "mt/a1.json", "h", 1, again[0].token)], 201.0)
        == []
    )
    assert state.counts("mt") == {"queued": 0, "archived": 1, "gone": 0}
    # Same entry again: nothing; changed entry in the same feed: requeued; other feed: ignored.
    assert state.discover("mt", [item], 300.0) == (0, 0)
    other_feed = Discovered("a1", "https://x/a1", "https://x/all", None, "fp-other")
    assert state.discover("mt", [other_feed], 300.0) == (0, 0)
    changed = Discovered("a1", "https://x/a1-new-slug", "https://x/rss", None, "fp2")
    assert state.discover("mt", [changed], 300.0) == (0, 1)


@pytest.mark.parametrize("other_first", [True, False])
def test_a_restored_article_learns_its_entry_only_from_its_own_feed(
    state_store: StateStore, other_first: bool
) -> None:
    """After ``state rebuild`` a row names its record's feed but has no fingerprint; whichever
    feed lists it first, only its own feed's entry is learnt, so nothing is requeued."""
    state = state_store
    state.restore_archived(
        [Restored("mt", "a1", "https://x/a1", "mt/a1.json", "https://x/rss", "h", 1)]
    )
    own = Discovered("a1", "https://x/a1", "https://x/rss", None, "fp-own")
    other = Discovered("a1", "https://x/a1", "https://x/all", None, "fp-other")
    for item in [other, own] if other_first else [own, other]:
        assert state.discover("mt", [item], 10.0) == (0, 0)
    assert state.discover("mt", [own, other], 20.0) == (0, 0)
    changed = Discovered("a1", "https://x/a1", "https://x/rss", None, "fp-own-2")
    assert state.discover("mt", [changed], 30.0) == (0, 1)


def test_an_article_of_no_feed_learns_the_first_feed_that_lists_it(state_store: StateStore) -> None:
    state = state_store
    state.restore_archived([Restored("mt", "a1", "https://x/a1", "mt/a1.json", None, "h", 1)])
    first = Discovered("a1", "https://x/a1", "https://x/all", None, "fp-all")
    second = Discovered("a1", "https://x/a1", "https://x/rss", None, "fp-rss")
    assert state.discover("mt", [first, second], 10.0) == (0, 0)
    assert state.discover("mt", [second, first], 20.0) == (0, 0)


def test_leases_of_dead_owners_are_reclaimed(state_store: StateStore) -> None:
    state = state_store
    state.discover("mt", [Discovered("a1", "https://x/a1", None, None, None)], 1.0)
    import socket

    ghost = f"{socket.gethostname()}:999999999:dead"
    assert state.claim_due("mt", 1.0, ghost, 3600)
    assert owner_is_dead(ghost, "me")
    assert not owner_is_dead(f"otherhost:{os.getpid()}:x", "me")
    assert state.reclaim_leases(lambda owner: owner_is_dead(owner, "me")) == 1
    assert state.claim_due("mt", 2.0, "me", 60)


def test_feed_claims_of_dead_owners_are_reclaimed(state_store: StateStore) -> None:
    """A service killed after claiming its feeds: the next one on this host polls them at once,
    not after the lease (found by the kill -9 test, whose last service waited 60 s)."""
    import socket

    state = state_store
    state.register_feeds([("https://example.com/a.xml", "mt")])
    ghost = f"{socket.gethostname()}:999999999:dead"
    assert state.claim_feeds(["mt"], 1.0, ghost, 3600, 10) == ["https://example.com/a.xml"]
    assert state.claim_feeds(["mt"], 2.0, "me", 60, 10) == []  # leased to the ghost
    assert state.reclaim_leases(lambda owner: owner_is_dead(owner, "me")) == 1
    assert state.claim_feeds(["mt"], 3.0, "me", 60, 10) == ["https://example.com/a.xml"]


def test_feeds_keep_validators_and_count_failures(state_store: StateStore) -> None:
    state = state_store
    assert state.feed("https://x/rss").etag is None
    state.feed_polled(
        "https://x/rss",
        "mt",
        now=10.0,
        outcome="changed",
        ok=True,
        etag='"e1"',
        last_modified="Fri, 27 Dec 2024 12:00:00 GMT",
        body_hash="b1",
        ttl_minutes=600,
        next_poll_at=610.0,
    )
    state.feed_polled(
        "https://x/rss",
        "mt",
        now=20.0,
        outcome="failed",
        ok=False,
        error="http_503: busy",
        next_poll_at=1220.0,
    )
    known = state.feed("https://x/rss")
    assert (known.etag, known.body_hash, known.ttl_minutes) == ('"e1"', "b1", 600)
    assert (known.consecutive_failures, known.next_poll_at, known.last_poll_at) == (1, 1220.0, 20.0)
    [row] = state.feeds_of("mt")
    assert (row.url, row.last_success_at, row.last_outcome, row.last_error) == (
        "https://x/rss",
        10.0,
        "failed",
        "http_503: busy",
    )
    state.feed_polled("https://x/rss", "mt", now=30.0, outcome="not_modified", ok=True)
    assert state.feed("https://x/rss").consecutive_failures == 0
    assert state.feed("https://x/rss").etag == '"e1"'  # kept when the answer names none
    assert state.feeds_of("other") == []


def test_robots_and_backfill_progress_are_kept(state_store: StateStore) -> None:
    state = state_store
    assert state.robots_get("https://x") is None
    state.robots_put("https://x", "User-agent: *\nDisallow: /p/", 5.0)
    state.robots_put("https://y", None, 6.0)
    assert state.robots_get("https://x") == ("User-agent: *\nDisallow: /p/", 5.0)
    assert state.robots_get("https://y") == (None, 6.0)
    assert not state.backfill_done("mt", "https://x/2024-12.xml", "2024-12-01..2024-12-31")
    state.backfill_mark("mt", "https://x/2024-12.xml", "2024-12-01..2024-12-31", 7.0)
    assert state.backfill_done("mt", "https://x/2024-12.xml", "2024-12-01..2024-12-31")
    assert not state.backfill_done("mt", "https://x/2024-12.xml", "2024-12-01..2024-12-15")


def test_backfill_visited_lists_the_files_and_indexes_done_for_a_range(
    state_store: StateStore,
) -> None:
    state = state_store
    december = "2024-12-01..2024-12-31"
    assert state.backfill_visited("mt", december) == set()
    state.backfill_mark("mt", "https://x/2024-12.xml", december, 7.0)
    state.backfill_mark("mt", "https://x/news-index.xml", december, 8.0)
    state.backfill_mark("mt", "https://x/2024-11.xml", "2024-11-01..2024-11-30", 9.0)
    state.backfill_mark("other", "https://y/2024-12.xml", december, 9.0)
    state.backfill_mark("mt", "https://x/2024-12.xml", december, 10.0)  # marked again: one
    assert state.backfill_visited("mt", december) == {
        "https://x/2024-12.xml",
        "https://x/news-index.xml",
    }
    assert state.backfill_visited("mt", "2024-12-01..2024-12-15") == set()


def test_articles_are_found_and_given_up_with_their_reason(state_store: StateStore) -> None:
    state = state_store
    items = [
        Discovered(f"a{n}", f"https://x/a{n}", "https://x/rss", '{"url": 1}', "fp")
        for n in range(3)
    ]
    assert state.discover("mt", items, 1.0) == (3, 0)
    a0, a2 = state.claim_due("mt", 1.0, "me", 60, ids=["a0", "a2", "nope"])
    assert state.failed(a0.lease, error="http_404: gone", next_try_at=2.0, give_up=True)
    stale = Lease("mt", "a2", a2.token - 1)  # not its lease: nothing changes
    assert not state.release(stale)
    assert state.claim_due("mt", 1.0, "other", 60, ids=["a2"]) == []
    assert state.release(a2.lease)
    assert [i.id for i in state.claim_due("mt", 1.0, "other", 60, ids=["a2"])] == ["a2"]
    gone = state.article("mt", "a0")
    assert gone is not None and (gone.status, gone.attempts, gone.last_error) == (
        "gone",
        1,
        "http_404: gone",
    )
    assert state.claim_due("mt", 5.0, "me", 60, ids=["a0"]) == []  # given up stays given up
    [a1] = state.claim_due("mt", 5.0, "me", 60, ids=["a1"])
    refused = state.archived_many(
        [Archived("mt", "a1", "mt/2024/12/27/a1.json", "h1", 2, a1.token, "https://x/b")], 3.0
    )
    assert refused == []
    [found] = state.find_article("a1")
    assert (found.status, found.path, found.revision, found.url) == (
        "archived",
        "mt/2024/12/27/a1.json",
        2,
        "https://x/b",
    )
    assert state.article("mt", "nope") is None and state.find_article("a0") == []
    assert state.counts("mt") == {"queued": 1, "archived": 1, "gone": 1}


def test_a_lease_is_renewed_while_held_and_a_stale_owners_writes_are_refused(
    state_store: StateStore,
) -> None:
    """Time is passed in: A claims for 10 s and renews; B takes the article over only once A's
    lease ran out; A's late writes are refused and leave B's claim alone."""
    state = state_store
    state.discover("mt", [Discovered("a1", "https://x/a1", "https://x/rss", None, "fp")], 0.0)
    [held] = state.claim_due("mt", 0.0, "A", 10)
    assert state.renew([held.lease], 8.0, 10) == []  # held until 18
    assert state.claim_due("mt", 15.0, "B", 10) == []
    assert state.renew([held.lease], 16.0, 10) == []  # held until 26
    [taken] = state.claim_due("mt", 27.0, "B", 10)  # A stalled: its lease ran out
    assert taken.token > held.token
    assert state.renew([held.lease], 28.0, 10) == [held.lease]
    assert not state.failed(held.lease, error="late", next_try_at=99.0, give_up=True)
    assert not state.release(held.lease)
    late = Archived("mt", "a1", "mt/a1.json", "h-A", 1, held.token)
    assert state.archived_many([late], 29.0) == [late]
    row = state.article("mt", "a1")
    assert row is not None and (row.status, row.attempts, row.last_error) == ("queued", 0, None)
    assert state.claim_due("mt", 30.0, "C", 10) == []  # still B's
    assert (
        state.archived_many([Archived("mt", "a1", "mt/a1.json", "h-B", 1, taken.token)], 31.0) == []
    )
    row = state.article("mt", "a1")
    assert row is not None and (row.status, row.content_hash) == ("archived", "h-B")


def test_a_revision_noted_without_a_lease_keeps_the_articles_place_in_the_queue(
    state_store: StateStore,
) -> None:
    state = state_store
    state.restore_archived(
        [Restored("mt", "a1", "https://x/a1", "mt/a1.json", "https://x/rss", "h", 1)]
    )
    state.discover("mt", [Discovered("a1", "https://x/a1", "https://x/rss", None, "fp1")], 1.0)
    changed = Discovered("a1", "https://x/a1", "https://x/rss", None, "fp2")
    assert state.discover("mt", [changed], 2.0) == (0, 1)  # requeued: its entry changed
    state.revised([Archived("mt", "a1", "mt/a1.json", "h2", 2, token=0)])  # reextract
    row = state.article("mt", "a1")
    assert row is not None and (row.status, row.revision, row.content_hash) == ("queued", 2, "h2")


def test_bookings_keep_one_gap_per_host_whoever_asks(state_store: StateStore) -> None:
    state = state_store
    waits = [state.reserve_hosts([("news.example", 0.5)])[0] for _ in range(3)]
    assert waits[0] == 0.0
    assert 0.4 < waits[1] <= 0.5 and 0.9 < waits[2] <= 1.0
    assert state.reserve_hosts([("other.example", 0.5)]) == [0.0]


def test_a_batch_of_bookings_keeps_the_gaps_of_a_host_booked_twice(state_store: StateStore) -> None:
    state = state_store
    state.reserve_hosts([("busy.example", 2.0)])  # booked before: the next start is 2 s away
    waits = state.reserve_hosts(
        [("busy.example", 1.0), ("idle.example", 1.0), ("busy.example", 0.5), ("idle.example", 1.0)]
    )
    assert 1.9 < waits[0] <= 2.0 and 2.9 < waits[2] <= 3.0  # one gap after the other
    assert waits[1] == 0.0 and 0.9 < waits[3] <= 1.0
    # The next batch starts after both gaps booked for each host.
    after = state.reserve_hosts([("busy.example", 1.0), ("idle.example", 1.0)])
    assert 3.3 < after[0] <= 3.5 and 1.9 < after[1] <= 2.0


class CountedBookings:
    """A state's host bookings, each batch noted; ``fail`` batches raise first."""

    def __init__(self, store: StateStore, fail: int = 0) -> None:
        self.store = store
        self.fail = fail
        self.batches: list[list[tuple[str, float]]] = []

    def reserve_hosts(self, bookings: Sequence[tuple[str, float]]) -> list[float]:
        self.batches.append(list(bookings))
        if len(self.batches) <= self.fail:
            raise StateError("state database is locked")
        return self.store.reserve_hosts(bookings)

    def close(self) -> None:
        pass


def test_bookings_asked_together_are_booked_together(state_store: StateStore) -> None:
    """Every request books its start; those asked for while the state is busy go in one
    transaction, and each host still gets one start per gap."""
    counted = CountedBookings(state_store)
    hosts = [f"host{k}.example" for k in range(10)]

    async def scenario() -> list[float]:
        state = AsyncState(cast(StateStore, counted))
        try:
            return await asyncio.gather(
                *(state.reserve_host(host, 0.5) for _ in range(3) for host in hosts)
            )
        finally:
            await state.close()

    waits = asyncio.run(scenario())
    assert sum(len(batch) for batch in counted.batches) == 30
    assert len(counted.batches) <= 2  # not one transaction per booking
    for k in range(len(hosts)):
        first, second, third = waits[k::10]  # asked in this order
        assert first == 0.0 and 0.4 < second <= 0.5 and 0.9 < third <= 1.0


def test_a_failed_batch_of_bookings_fails_each_request_and_the_next_books_again(
    state_store: StateStore,
) -> None:
    counted = CountedBookings(state_store, fail=1)

    async def scenario() -> tuple[list[BaseException | float], float]:
        state = AsyncState(cast(StateStore, counted))
        try:
            failed = await asyncio.gather(
                *(state.reserve_host(f"h{k}.example", 0.5) for k in range(3)),
                return_exceptions=True,
            )
            return failed, await state.reserve_host("h0.example", 0.5)
        finally:
            await state.close()

    failed, again = asyncio.run(scenario())
    assert all(isinstance(error, StateError) for error in failed)
    assert again == 0.0 and len(counted.batches) == 2  # nothing was booked by the failed one


def test_the_writable_check_keeps_the_connections_locks(tmp_path: Path) -> None:
    """POSIX locks belong to the process and go when any of its descriptors of the file is
    closed: a check that opened and closed the state file, its -wal and -shm (every /readyz) left
    SQLite without its locks, the next process to close its connection took itself for the last
    one and deleted the WAL, and every later write of the service went into the deleted file."""
    path = tmp_path / "state.sqlite3"
    state = SqliteState(path)
    try:
        state.register_feeds([("https://example.com/a.xml", "mt")])
        assert state.writable() is None
        reader = (
            "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]);"
            "print(db.execute('SELECT COUNT(*) FROM feeds').fetchone()[0]); db.close()"
        )
        seen = subprocess.run(
            [sys.executable, "-c", reader, str(path)], capture_output=True, text=True, check=True
        )
        assert seen.stdout.strip() == "1"
        state.register_feeds([("https://example.com/b.xml", "mt")])
        assert Path(f"{path}-wal").exists()  # not deleted under the open connection
        seen = subprocess.run(
            [sys.executable, "-c", reader, str(path)], capture_output=True, text=True, check=True
        )
        assert seen.stdout.strip() == "2"  # the write after the check reached the file
    finally:
        state.close()


def test_a_new_state_opens_while_another_process_is_creating_it(tmp_path: Path) -> None:
    """Two commands started together on a new state: while one holds the file's write lock
    (creating its tables), switching the file to WAL takes an exclusive lock that SQLite does
    not wait for, and the other failed at once with "database is locked", reported as an
    unusable state (seen in CI). The switch now waits as any statement does."""
    path = tmp_path / "state.sqlite3"
    creating = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        creating.execute("BEGIN IMMEDIATE")
        creating.execute("CREATE TABLE other (x)")
        commit = threading.Timer(0.5, lambda: creating.execute("COMMIT"))
        commit.start()
        started = time.monotonic()
        state = SqliteState(path)
        try:
            assert time.monotonic() - started >= 0.4  # it waited for the lock
            state.register_feeds([("https://example.com/a.xml", "mt")])
            assert len(state.feeds_of("mt")) == 1
        finally:
            state.close()
    finally:
        commit.join()
        creating.close()
