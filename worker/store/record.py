"""Normalize: an :class:`Extracted` page plus what we know of its fetch becomes an article record.

The record is a plain dict that serializes to the JSON the archive holds; its JSON Schema ships in
the package (``record.schema.json``). ``content_hash`` covers what the article says, not when or
how we fetched it, so an unchanged article hashes the same on every fetch and a changed one
becomes a new revision.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import orjson

from worker.model import Extracted
from worker.parse import dates
from worker.parse.feeds import FeedEntry
from worker.store.caps import capped

SCHEMA_VERSION = 1
# What an article says. Not ``disclaimer``: it is the site's note on every opinion piece, not the
# piece's own words; rewording it would make a revision of every opinion article for nothing the
# article changed (and adding a key here changes every record's hash, so reextract would rewrite
# the whole archive). A record keeps the disclaimer of the page it was built from.
CONTENT_FIELDS = (
    "url",
    "title",
    "subtitle",
    "authors",
    "author_details",
    "published_at",
    "updated_at",
    "section",
    "tags",
    "language",
    "description",
    "lead_image",
    "text",
    "body",
    "related",
    "kind",
    "label",
)


@dataclass(frozen=True)
class FetchInfo:
    """How the page was obtained: requested and final URL, status, type, the feed it came from."""

    requested_url: str
    final_url: str
    status: int
    content_type: str | None
    fetched_at: datetime
    feed_url: str | None
    raw_sha256: str
    feed_entry: FeedEntry | None = None
    warc: dict[str, Any] | None = None  # where the fetch's WARC response record is


def content_hash(record: dict[str, Any]) -> str:
    content = {key: record.get(key) for key in CONTENT_FIELDS}
    return (
        "sha256:" + hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()
    )


def build(
    extracted: Extracted, *, article_id: str, source: str, profile: str, fetch: FetchInfo
) -> dict[str, Any]:
    """The article record (revision and content hash filled in; revision 1 until archived);
    every field within its cap (:mod:`worker.store.caps`)."""
    extracted = capped(extracted)
    image = extracted.lead_image
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "id": article_id,
        "source": source,
        "url": extracted.canonical_url or fetch.final_url,
        "title": extracted.title,
        "subtitle": extracted.subtitle,
        "authors": [a.name for a in extracted.authors],
        "author_details": [{"name": a.name, "url": a.url} for a in extracted.authors],
        "published_at": extracted.published_at,
        "updated_at": extracted.updated_at,
        "section": extracted.section,
        "tags": list(extracted.tags),
        "language": extracted.language,
        "language_detected": extracted.language_detected,
        "description": extracted.description,
        "lead_image": (
            {"url": image.url, "caption": image.caption, "credit": image.credit} if image else None
        ),
        "text": extracted.text,
        "body": [block.as_dict() for block in extracted.body],
        "related": [
            {"title": link.title, "url": link.url, "label": link.label}
            for link in extracted.related
        ],
        "kind": extracted.kind,
        "label": extracted.label,
        "disclaimer": extracted.disclaimer,
        "fetched_at": dates.iso(fetch.fetched_at),
        "feed_url": fetch.feed_url,
        "feed_entry": dataclasses.asdict(fetch.feed_entry) if fetch.feed_entry else None,
        "revision": 1,
        "content_hash": "",
        "extraction": {
            "method": extracted.method,
            "profile": profile,
            "layout": extracted.layout,
            "fallbacks": list(extracted.fallbacks),
            "warnings": list(extracted.warnings),
        },
        "fetch": {
            "requested_url": fetch.requested_url,
            "final_url": fetch.final_url,
            "status": fetch.status,
            "content_type": fetch.content_type,
            "raw_sha256": fetch.raw_sha256,
        },
    }
    if fetch.warc is not None:
        record["fetch"]["warc"] = fetch.warc
    record["content_hash"] = content_hash(record)
    return record


def dumps(record: dict[str, Any]) -> bytes:
    """The record as the archive stores it: UTF-8 JSON, indented, newline-terminated."""
    return orjson.dumps(record, option=orjson.OPT_INDENT_2) + b"\n"


def schema() -> dict[str, Any]:
    """The record's JSON Schema, as shipped in the package."""
    text = (
        resources.files("worker.store").joinpath("record.schema.json").read_text(encoding="utf-8")
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded
