"""Sitemap parsing: bytes in (plain or gzip), a frozen :class:`Sitemap` out.

Sitemap indexes, URL sets and Google News sitemaps. Parsing is lenient, since real sitemaps are
often ill-formed: the Moscow Times writes news titles unescaped, so one ``&`` breaks strict XML.
Bare ampersands are escaped first and lxml's recovering parser does the rest, with entity
resolution and network access off. Bodies are capped before and after decompression.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from lxml import etree

from worker.errors import ParseError
from worker.parse import dates
from worker.parse.feeds import prepare
from worker.parse.urls import canonical_url

MAX_SITEMAP_BYTES = 50_000_000  # the sitemap protocol's own limit, uncompressed
MAX_ENTRIES = 100_000
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
            return str(child.text).strip()
    return None


def parse(body: bytes, base_url: str) -> Sitemap:
    """Parse a sitemap or sitemap index. Raises :class:`ParseError` if it is neither."""
    if body[:2] == b"\x1f\x8b":
        body = gunzip(body)
    if len(body) > MAX_SITEMAP_BYTES:
        raise ParseError(f"sitemap of {len(body)} bytes is over the limit of {MAX_SITEMAP_BYTES}")
    data = _BARE_AMP.sub(b"&amp;", prepare(body.lstrip()))
    parser = etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True
    )
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ParseError(f"not a sitemap: {exc}") from exc
    if root is None:
        raise ParseError("not a sitemap: no XML element found")
    kind = _local(root.tag)
    if kind not in ("sitemapindex", "urlset"):
        raise ParseError(f"not a sitemap: root element <{kind or '?'}>")
    item_name = "sitemap" if kind == "sitemapindex" else "url"
    entries: list[SitemapEntry] = []
    skipped = 0
    for node in root:
        if _local(node.tag) != item_name:
            continue
        if len(entries) >= MAX_ENTRIES:
            skipped += 1
            continue
        loc_text = _child_text(node, "loc")
        loc = canonical_url(loc_text, base_url) if loc_text else None
        if loc is None:
            skipped += 1
            continue
        entries.append(
            SitemapEntry(
                loc=loc,
                lastmod=dates.normalize(_child_text(node, "lastmod")),
                published=dates.normalize(_child_text(node, "publication_date")),
                title=_child_text(node, "title"),
            )
        )
    return Sitemap("index" if kind == "sitemapindex" else "urlset", tuple(entries), skipped)
