"""The state's queue read without claiming (every implementation): why articles wait, and which
are due, for the exit code of a run, ``status`` and ``fetch --list``."""

from __future__ import annotations

from worker.store.interfaces import Discovered, StateStore
from worker.store.reads import NEVER_TRIED


def _queue(state: StateStore, count: int) -> None:
    items = [
        Discovered(f"a{n}", f"https://x/a{n}", "https://x/rss", None, f"fp{n}")
        for n in range(count)
    ]
    assert state.discover("mt", items, 100.0) == (count, 0)


def test_queue_reasons_count_the_last_failure_of_each_queued_article(
    state_store: StateStore,
) -> None:
    state = state_store
    _queue(state, 4)
    claimed = state.claim_due("mt", 100.0, "me", 60, limit=3)
    errors = [
        "archive_error: cannot write x: Read-only file system",
        "archive_error: disk full",
        "http_503: x",
    ]
    for item, error in zip(claimed, errors, strict=True):
        assert state.failed(item.lease, error=error, next_try_at=500.0, give_up=False)
    assert state.queue_reasons("mt") == {"archive_error": 2, "http_503": 1, NEVER_TRIED: 1}
    assert state.queue_reasons("other") == {}


def test_due_urls_lists_what_a_claim_would_take_and_claims_nothing(state_store: StateStore) -> None:
    state = state_store
    _queue(state, 3)
    held = state.claim_due("mt", 100.0, "me", 60, limit=1)
    assert state.failed(held[0].lease, error="http_500: x", next_try_at=1000.0, give_up=False)
    due = state.due_urls("mt", 200.0, 10)
    assert sorted(due) == ["https://x/a1", "https://x/a2"]
    assert state.due_urls("mt", 200.0, 1) in (["https://x/a1"], ["https://x/a2"])
    assert sorted(i.url for i in state.claim_due("mt", 200.0, "other", 60)) == sorted(due)
    assert state.due_urls("mt", 200.0, 10) == []  # now held by "other"
