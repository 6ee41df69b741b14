"""Feed entries as the state keeps them: a fingerprint for change detection, JSON for the
extractor's fallbacks."""

from __future__ import annotations

import dataclasses
import hashlib

import orjson

from worker.parse.feeds import FeedEntry


def fingerprint(entry: FeedEntry) -> str:
    """What makes a feed entry "changed" for an archived article (not the link: slugs change)."""
    key = "\x1f".join([entry.title or "", entry.summary or "", entry.updated or ""])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def entry_to_json(entry: FeedEntry) -> str:
    return orjson.dumps(dataclasses.asdict(entry)).decode("utf-8")


def entry_from_json(raw: str | None) -> FeedEntry | None:
    if not raw:
        return None
    try:
        data = orjson.loads(raw)
        data["authors"] = tuple(data.get("authors") or ())
        data["categories"] = tuple(data.get("categories") or ())
        return FeedEntry(**data)
    except (orjson.JSONDecodeError, TypeError):
        return None
