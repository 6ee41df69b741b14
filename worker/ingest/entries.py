"""Feed entries as the state keeps them: a fingerprint for change detection, JSON for the
extractor's fallbacks."""

from __future__ import annotations

import hashlib

import orjson

from worker.parse.feeds import FeedEntry


def fingerprint(entry: FeedEntry) -> str:
    """What makes a feed entry "changed" for an archived article (not the link: slugs change)."""
    key = "\x1f".join([entry.title or "", entry.summary or "", entry.updated or ""])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def entry_to_json(entry: FeedEntry) -> str:
    return orjson.dumps(entry).decode("utf-8")  # a dataclass, as dataclasses.asdict() gives it


def entry_from_json(raw: str | None) -> FeedEntry | None:
    if not raw:
        return None
    try:
        return entry_from_dict(orjson.loads(raw))
    except orjson.JSONDecodeError:
        return None


def entry_from_dict(data: object) -> FeedEntry | None:
    """The entry as a record's ``feed_entry`` (or the state) keeps it; None if it is none."""
    if not isinstance(data, dict):
        return None
    try:
        values = {**data}
        values["authors"] = tuple(values.get("authors") or ())
        values["categories"] = tuple(values.get("categories") or ())
        return FeedEntry(**values)
    except TypeError:
        return None
