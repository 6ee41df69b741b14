"""``news-worker status``: per source, last poll, last success, next due, failures, counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from worker.config import Settings
from worker.store import existing_state
from worker.store.interfaces import FeedRow


def _when(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else None


def status(settings: Settings) -> list[dict[str, Any]]:
    """Per source: last poll, last success, next due, consecutive failures, counts."""
    state = existing_state(settings)
    if state is None:
        # Nothing has run yet: say so, without creating the state (or its folder).
        return [_status_row(source.name, [], {}, {}) for source in settings.sources]
    try:
        return [
            _status_row(
                source.name,
                state.feeds_of(source.name),
                counts := state.counts(source.name),
                state.queue_reasons(source.name) if counts.get("queued") else {},
            )
            for source in settings.sources
        ]
    finally:
        state.close()


def _status_row(
    name: str, feeds: Sequence[FeedRow], counts: Mapping[str, int], reasons: Mapping[str, int]
) -> dict[str, Any]:
    polls = [f.last_poll_at for f in feeds if f.last_poll_at]
    successes = [f.last_success_at for f in feeds if f.last_success_at]
    due = [f.next_poll_at for f in feeds if f.next_poll_at]
    return {
        "source": name,
        "last_poll": _when(max(polls, default=None)),
        "last_success": _when(max(successes, default=None)),
        "next_due": _when(min(due, default=None)),
        "consecutive_failures": max((f.consecutive_failures for f in feeds), default=0),
        "archived": counts.get("archived", 0),
        "queued": counts.get("queued", 0),
        "given_up": counts.get("gone", 0),
        # why the queued articles wait: the reason of each one's last failure ("new": not
        # tried yet), e.g. {"archive_error": 10} while the archive refuses writes
        "queued_by_reason": {(k or "new"): v for k, v in sorted(reasons.items())},
        "feeds": [
            {
                "url": f.url,
                "last_outcome": f.last_outcome,
                "consecutive_failures": f.consecutive_failures,
                "last_error": f.last_error,
            }
            for f in feeds
        ],
    }


def status_table(rows: list[dict[str, Any]]) -> str:
    columns = (
        "source",
        "last_poll",
        "last_success",
        "next_due",
        "consecutive_failures",
        "archived",
        "queued",
        "given_up",
    )
    heads = (
        "SOURCE",
        "LAST POLL",
        "LAST SUCCESS",
        "NEXT DUE",
        "FAILURES",
        "ARCHIVED",
        "QUEUED",
        "GIVEN UP",
    )
    cells = [[str(row[c]) if row[c] is not None else "-" for c in columns] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(heads)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)
