"""Sitemap parsing: bytes in (plain or gzip), a frozen :class:`Sitemap` out.

Sitemap indexes, URL sets and Google News sitemaps. Parsing is lenient, since real sitemaps are
often ill-formed: the Moscow Times writes news titles unescaped, so one ``&`` breaks strict XML.
Bare ampersands are escaped first and lxml's recovering parser does the rest, with entity
resolution and network access off, DOCTYPEs and entity declarations removed. Bodies are capped
before and after decompression at the protocol's 50 MB (not the feeds' 8 MB: a legitimate
sitemap of 50,000 URLs is larger), and at most 50,000 entries are read.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from lxml import etree

from worker.errors import ParseError
from worker.parse import dates
from worker.parse.feeds import strip_declarations
from worker.parse.urls import canonical_url

MAX_SITEMAP_BYTES = 50_000_000  # the sitemap protocol's own limits: 50 MB uncompressed ...
MAX_ENTRIES = 50_000  # ... and 50,000 URLs (or sitemaps) a file
MAX_TEXT = 2048  # characters kept of a location, date or news title
_CHUNK = 1 << 20
_BARE_AMP = re.compile(rb"&(?!(?:[A-Za-z][A-Za-z0-9]{0,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});)")


@dataclass(frozen=True)
class SitemapEntry:
    """A ``<url>`` or ``<sitemap>``: the location, and the dates and title it carries."""

    loc: str
    lastmod: str | None = None
    published: str | None = None  # news:publication_date
    title: str | None = None  # news:title


@dataclass(frozen=True)
class Sitemap:
    kind: str  # "index" or "urlset"
    entries: tuple[SitemapEntry, ...]
    skipped: int


def gunzip(body: bytes, limit: int = MAX_SITEMAP_BYTES) -> bytes:
    """Decompress a gzip body without ever holding more than ``limit`` bytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ParseError(f"corrupt gzip sitemap: {exc}") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise ParseError(f"sitemap expands to more than {limit} bytes")
    return out


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _child_text(node: etree._Element, name: str) -> str | None:
    for child in node.iter():
        if _local(child.tag) == name and child.text and child.text.strip():
            return str(child.text).strip()[:MAX_TEXT]
    return None


def _entry(node: etree._Element, base_url: str) -> SitemapEntry | None:
    loc_text = _child_text(node, "loc")
    loc = canonical_url(loc_text, base_url) if loc_text else None
    if loc is None:
        return None
    return SitemapEntry(
        loc=loc,
        lastmod=dates.normalize(_child_text(node, "lastmod")),
        published=dates.normalize(_child_text(node, "publication_date")),
        title=_child_text(node, "title"),
    )


def parse(body: bytes, base_url: str) -> Sitemap:
    """Parse a sitemap or sitemap index. Raises :class:`ParseError` if it is neither.

    The XML is read as a stream and each entry dropped from the tree once read, so memory holds
    the entries, not the document; past :data:`MAX_ENTRIES` the rest is counted, not read."""
    if body[:2] == b"\x1f\x8b":
        body = gunzip(body)
    if len(body) > MAX_SITEMAP_BYTES:
        raise ParseError(
            f"sitemap of {len(body)} bytes is over the limit of {MAX_SITEMAP_BYTES}",
            reason="too_large",
        )
    data = _BARE_AMP.sub(b"&amp;", strip_declarations(body.lstrip()))
    parser = etree.XMLPullParser(
        events=("start", "end"),
        recover=True,
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
    )
    kind = ""
    entries: list[SitemapEntry] = []
    skipped = 0
    try:
        for offset in range(0, len(data), _CHUNK):
            parser.feed(data[offset : offset + _CHUNK])
            for event, found in parser.read_events():
                if not isinstance(found, etree._Element):
                    continue
                node = found
                if not kind:
                    kind = _local(node.tag)
                    if kind not in ("sitemapindex", "urlset"):
                        raise ParseError(f"not a sitemap: root element <{kind or '?'}>")
                    item_name = "sitemap" if kind == "sitemapindex" else "url"
                    continue
                if event != "end" or _local(node.tag) != item_name:
                    continue
                parent = node.getparent()
                if parent is None or parent.getparent() is not None:
                    continue  # not a child of the root
                entry = _entry(node, base_url)
                if entry is None:
                    skipped += 1
                else:
                    entries.append(entry)
                node.clear()
                while node.getprevious() is not None:
                    del parent[0]
                if len(entries) >= MAX_ENTRIES:  # the rest is counted, not read
                    total = data.count(b"<loc>") + data.count(b"<loc ")
                    return Sitemap(_kind(kind), tuple(entries), max(skipped, total - len(entries)))
        parser.close()
    except etree.XMLSyntaxError as exc:
        if not kind:
            raise ParseError(f"not a sitemap: {exc}") from exc
    if not kind:
        raise ParseError("not a sitemap: no XML element found")
    return Sitemap(_kind(kind), tuple(entries), skipped)


def _kind(root: str) -> str:
    return "index" if root == "sitemapindex" else "urlset"
