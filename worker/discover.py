"""Feed autodiscovery: the feeds a site announces in its pages, and those at common paths.

Pure helpers; the ``discover`` command fetches the page and the candidates through the fetcher
(so robots.txt and politeness apply) and keeps only candidates that parse as feeds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from worker.html import decode, squash
from worker.urls import canonical_url

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
)
COMMON_PATHS = (
    "/feed",
    "/feed/",
    "/rss",
    "/rss.xml",
    "/feed.xml",
    "/atom.xml",
    "/index.xml",
    "/rss/news",
    "/rss/all",
    "/feeds/posts/default",
    "/?feed=rss2",
    "/news/rss.xml",
    "/feed/atom",
)


@dataclass(frozen=True)
class Candidate:
    url: str
    title: str | None
    how: str  # "announced" or "common path"


def announced(body: bytes, url: str, content_type: str | None = None) -> list[Candidate]:
    """Feeds a page announces with ``<link rel="alternate" type="...rss/atom...">``."""
    text, _ = decode(body, content_type)
    tree = LexborHTMLParser(text)
    found: dict[str, Candidate] = {}
    for link in tree.css("link[href]"):
        attrs = link.attributes
        rel = (attrs.get("rel") or "").lower().split()
        kind = (attrs.get("type") or "").lower().split(";")[0].strip()
        if "alternate" not in rel or kind not in FEED_TYPES:
            continue
        href = canonical_url(attrs.get("href") or "", url)
        if href and href not in found:
            found[href] = Candidate(href, squash(attrs.get("title")) or None, "announced")
    return list(found.values())


def common(url: str) -> list[Candidate]:
    """Candidates at the paths feeds are usually found at, on the page's origin."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return [Candidate(origin + path, None, "common path") for path in COMMON_PATHS]


def source_name(url: str) -> str:
    """A config-safe source name from a site's host (``www.example.co.uk`` -> ``example``)."""
    host = (urlsplit(url).hostname or "site").lower()
    labels = [p for p in host.split(".") if p not in ("www", "m", "feeds", "rss")]
    name = labels[0] if labels else "site"
    return re.sub(r"[^a-z0-9_-]", "-", name)[:64] or "site"
