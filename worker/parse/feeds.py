"""Feed parsing: RSS 2.0, RSS 1.0 and Atom bytes in, a frozen :class:`Feed` out.

feedparser does the reading, but only after the body is capped and every DOCTYPE (with its
internal entity subset) and entity declaration is removed, wherever it is in the body:
feedparser's loose fallback parser expands internal entities without limit, so a 200 KB "billion
laughs" feed could take gigabytes (and a declaration past the first 64 KB once slipped through).
Text fields are capped (:data:`MAX_TEXT`), since entries are kept in the state. The body is
handed over as a ``BytesIO``; given bytes or a string, feedparser may treat them as a path or URL.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import feedparser
from selectolax.lexbor import LexborHTMLParser

from worker.errors import ParseError
from worker.parse import dates
from worker.parse.charset import content_charset, whatwg_codec
from worker.parse.urls import canonical_url

MAX_FEED_BYTES = 8_000_000
MAX_ENTRIES = 5_000
# Characters kept of feed text. A summary may be a whole article (the Moscow Times' /rss/all).
MAX_TEXT = {"title": 2000, "summary": 50_000, "name": 200, "guid": 2048}
MAX_NAMES = 50  # authors and categories kept per entry
_DECLARATION = re.compile(rb"<!(?:doctype|entity)", re.IGNORECASE)
_SUBSET_END = re.compile(rb"\]\s*>")
_SPACE = re.compile(r"\s+")
_ENTRY_KEYS = (
    "link",
    "id",
    "title",
    "summary",
    "published",
    "updated",
    "authors",
    "tags",
    "links",
    "media_content",
    "media_thumbnail",
)


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed, with its link made canonical and its dates keeping their offset."""

    url: str
    guid: str | None
    title: str | None
    summary: str | None
    published: str | None
    updated: str | None
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    image: str | None


@dataclass(frozen=True)
class Feed:
    """A parsed feed. ``problem`` reports a recoverable defect (entries may still be present)."""

    title: str | None
    link: str | None
    version: str
    ttl_minutes: int | None
    entries: tuple[FeedEntry, ...]
    skipped: int
    problem: str | None


def clean_text(value: str | None) -> str | None:
    """Collapse the template padding around feed text; None if nothing is left."""
    if value is None:
        return None
    text = _SPACE.sub(" ", value).strip()
    return text or None


def html_to_text(value: str | None) -> str | None:
    """Visible text of an HTML fragment (feed descriptions may be escaped HTML)."""
    if not value:
        return None
    if "<" not in value and "&" not in value:
        return clean_text(value)
    tree = LexborHTMLParser(f"<body>{value}</body>")
    body = tree.body
    return clean_text(body.text(separator=" ") if body is not None else None)


def strip_declarations(body: bytes) -> bytes:
    """``body`` without any DOCTYPE (internal subset included) or entity declaration, wherever
    they are. One pass, each search starting where the last cut ended: linear in the size, so a
    body of unterminated declarations costs no more than any other."""
    if _DECLARATION.search(body) is None:
        return body
    kept: list[bytes] = []
    position = 0
    while (match := _DECLARATION.search(body, position)) is not None:
        kept.append(body[position : match.start()])
        end = len(body)
        close = body.find(b">", match.end())
        bracket = body.find(b"[", match.end())
        if match.group(0).lower() == b"<!doctype" and bracket != -1 and -1 < bracket < close:
            subset = _SUBSET_END.search(body, bracket)
            end = subset.end() if subset else len(body)
        elif close != -1:
            end = close + 1
        position = end
    kept.append(body[position:])
    return b"".join(kept)


def prepare(body: bytes, limit: int = MAX_FEED_BYTES) -> bytes:
    """Cap the body and remove DOCTYPE and entity declarations before any XML parser sees it."""
    if len(body) > limit:
        raise ParseError(f"feed of {len(body)} bytes is over the limit of {limit}")
    return strip_declarations(body)


def _cap(text: str | None, key: str) -> str | None:
    return text[: MAX_TEXT[key]] if text is not None else None


def entry_estimate(body: bytes) -> int:
    """How many entries a feed body holds, roughly, without parsing it."""
    return body.count(b"<item") + body.count(b"<entry")


def _entry(item: dict[str, object], base_url: str, atom: bool) -> FeedEntry | None:
    # dict.get bypasses FeedParserDict's legacy key mapping (which maps "updated" to "published").
    raw: dict[str, Any] = {key: dict.get(item, key) for key in _ENTRY_KEYS}
    link = raw.get("link")
    guid = raw.get("id")
    href = link if isinstance(link, str) and link.strip() else None
    if href is None and isinstance(guid, str) and guid.startswith(("http://", "https://")):
        href = guid
    url = canonical_url(href, base_url) if href else None
    if url is None:
        return None
    authors: list[str] = []
    for author in raw.get("authors") or []:
        name = clean_text(dict.get(author, "name")) if isinstance(author, dict) else None
        name = _cap(name, "name")
        if name and "@" not in name and name not in authors and len(authors) < MAX_NAMES:
            authors.append(name)
    categories = tuple(
        dict.fromkeys(
            term[: MAX_TEXT["name"]]
            for tag in (raw.get("tags") or [])[:MAX_NAMES]
            if isinstance(tag, dict) and (term := clean_text(dict.get(tag, "term")))
        )
    )
    image = None
    for enclosure in raw.get("links") or []:
        if (
            isinstance(enclosure, dict)
            and dict.get(enclosure, "rel") == "enclosure"
            and str(dict.get(enclosure, "type", "")).startswith("image/")
        ):
            image = canonical_url(str(enclosure.get("href", "")), base_url)
            break
    if image is None:
        for media in (raw.get("media_content") or []) + (raw.get("media_thumbnail") or []):
            if (
                isinstance(media, dict)
                and media.get("url")
                and media.get("medium", "image") == "image"
            ):
                image = canonical_url(str(media["url"]), base_url)
                break
    title = raw.get("title")
    summary = raw.get("summary")
    published = raw.get("published")
    updated = raw.get("updated")
    if published is None and not atom:
        # feedparser files RSS items' dc:date under "updated"; it is the item's date.
        published = updated
    return FeedEntry(
        url=url,
        guid=_cap(clean_text(guid), "guid") if isinstance(guid, str) else None,
        title=_cap(html_to_text(title[: 4 * MAX_TEXT["title"]]), "title")
        if isinstance(title, str)
        else None,
        summary=_cap(html_to_text(summary[: 4 * MAX_TEXT["summary"]]), "summary")
        if isinstance(summary, str)
        else None,
        published=dates.normalize(published) if isinstance(published, str) else None,
        updated=dates.normalize(updated) if isinstance(updated, str) else None,
        authors=tuple(authors),
        categories=categories,
        image=image,
    )


def parse(body: bytes, base_url: str, content_type: str | None = None) -> Feed:
    """Parse a feed body fetched from ``base_url``. Raises :class:`ParseError` if it is no feed.

    ``content_type`` is the response's header (its charset wins over the XML prolog, as HTTP
    says); without one the body is read as XML with the encoding it declares.
    """
    data = prepare(body)
    # Servers send feeds as text/html or text/plain too (feedparser would flag that); a charset
    # browsers do not know (utf-7, hex...) counts as none, and the XML prolog decides.
    media = (content_type or "").split(";")[0].strip()
    if not re.search(r"xml|rss|atom", media, re.IGNORECASE):
        media = "application/xml"
    label = content_charset(content_type)
    declared = media + (f"; charset={label}" if label and whatwg_codec(label) else "")
    try:
        parsed = feedparser.parse(
            io.BytesIO(data),
            response_headers={"content-location": base_url, "content-type": declared},
        )
    except Exception as exc:  # feedparser trips on hostile input, e.g. encoding="\x80"
        raise ParseError(f"unreadable feed ({type(exc).__name__}: {exc})"[:300]) from exc
    version = str(parsed.get("version") or "")
    raw_entries = parsed.get("entries") or []
    problem = None
    if parsed.get("bozo"):
        bozo = parsed.get("bozo_exception")
        problem = f"{type(bozo).__name__}: {bozo}"[:300] if bozo else "malformed feed"
    if not version and not raw_entries:
        raise ParseError(f"not an RSS or Atom feed ({problem or 'no feed element'})")
    entries: list[FeedEntry] = []
    skipped = 0
    for raw in raw_entries[:MAX_ENTRIES]:
        entry = _entry(raw, base_url, version.startswith("atom"))
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    channel = parsed.get("feed") or {}
    ttl_raw = channel.get("ttl")
    ttl = int(ttl_raw) if isinstance(ttl_raw, str) and ttl_raw.strip().isdigit() else None
    title = channel.get("title")
    link = channel.get("link")
    return Feed(
        title=_cap(clean_text(title[: 4 * MAX_TEXT["title"]]), "title")
        if isinstance(title, str)
        else None,
        link=canonical_url(link, base_url) if isinstance(link, str) else None,
        version=version or "unknown",
        ttl_minutes=ttl,
        entries=tuple(entries),
        skipped=skipped + max(0, len(raw_entries) - MAX_ENTRIES),
        problem=problem,
    )
