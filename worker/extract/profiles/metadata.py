"""Article metadata from what a page says about itself: JSON-LD, OpenGraph, ``article:*``,
Dublin Core and plain ``<meta>`` tags. Shared by every profile as its field-by-field fallback.

Each function returns None (or empty) rather than a guess.
"""

from __future__ import annotations

import re
from typing import Any

from worker.extract.html import squash
from worker.extract.meta import PageMeta
from worker.model import Author, Image
from worker.parse import dates
from worker.parse.urls import canonical_url

ARTICLE_TYPES = (
    "NewsArticle",
    "Article",
    "ReportageNewsArticle",
    "AnalysisNewsArticle",
    "OpinionNewsArticle",
    "BackgroundNewsArticle",
    "ReviewNewsArticle",
    "BlogPosting",
    "LiveBlogPosting",
    "Report",
    "TechArticle",
    "ScholarlyArticle",
    "SocialMediaPosting",
    "WebPage",
)
_BY = re.compile(r"^\s*(?:by|von|par|por|di|door|av|от)\s+", re.IGNORECASE)
_AUTHOR_SPLIT = re.compile(r"\s*(?:,|;|\band\b|\bund\b|\bet\b|\by\b|&|\|)\s*", re.IGNORECASE)


def article_object(meta: PageMeta) -> dict[str, Any]:
    """The page's main JSON-LD article object (the first of the most specific type), or {}."""
    for kind in ARTICLE_TYPES:
        found = meta.objects(kind)
        if found:
            return found[0]
    return {}


def _string(value: object) -> str | None:
    if isinstance(value, str):
        return squash(value) or None
    if isinstance(value, dict):
        return _string(value.get("name") or value.get("@value"))
    if isinstance(value, list) and value:
        return _string(value[0])
    return None


def ld_string(obj: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = _string(obj.get(key))
        if value:
            return value
    return None


def clean_author(name: str | None) -> str | None:
    """Strip "By " and surrounding noise; None for empty names, e-mail addresses and URLs."""
    if not name:
        return None
    name = squash(_BY.sub("", squash(name)))
    if not name or "@" in name or name.startswith(("http://", "https://")) or len(name) > 120:
        return None
    return name


def unique_authors(authors: list[Author]) -> tuple[Author, ...]:
    seen: set[str] = set()
    out = []
    for author in authors:
        key = author.name.casefold()
        if key not in seen:
            seen.add(key)
            out.append(author)
    return tuple(out)


def ld_authors(obj: dict[str, Any], base: str) -> tuple[Author, ...]:
    raw = obj.get("author") or obj.get("creator")
    items = raw if isinstance(raw, list) else [raw] if raw else []
    authors = []
    for item in items[:50]:
        if isinstance(item, dict):
            name = clean_author(_string(item.get("name")))
            url = item.get("url") or item.get("sameAs")
            url = canonical_url(url, base) if isinstance(url, str) else None
            if name:
                authors.append(Author(name, url))
        elif isinstance(item, str):
            for part in _AUTHOR_SPLIT.split(item):
                name = clean_author(part)
                if name:
                    authors.append(Author(name))
    return unique_authors(authors)


def meta_authors(meta: PageMeta) -> tuple[Author, ...]:
    """Authors named by ``<meta>`` (author, Dublin Core, article:author), else by microdata,
    else by ``rel=author`` links."""
    names = meta.all("author") + meta.all("dc.creator") + meta.all("dcterms.creator")
    names += [v for v in meta.all("article:author") if not v.startswith("http")]
    if not names:
        names = meta.all("microdata:author") or meta.all("rel:author")
    authors = []
    for value in names:
        for part in _AUTHOR_SPLIT.split(value):
            name = clean_author(part)
            if name:
                authors.append(Author(name))
    return unique_authors(authors)


def ld_keywords(obj: dict[str, Any]) -> tuple[str, ...]:
    raw = obj.get("keywords")
    values = raw if isinstance(raw, list) else [raw] if isinstance(raw, str) else []
    tags = [squash(t) for v in values if isinstance(v, str) for t in v.split(",")]
    return tuple(dict.fromkeys(t for t in tags if t))


def meta_keywords(meta: PageMeta) -> tuple[str, ...]:
    tags = meta.all("article:tag")
    if not tags:
        tags = [t for v in meta.all("keywords") + meta.all("news_keywords") for t in v.split(",")]
    return tuple(dict.fromkeys(squash(t) for t in tags if squash(t)))


def ld_image(
    obj: dict[str, Any], base: str, graph: tuple[dict[str, Any], ...] = ()
) -> Image | None:
    """The article's ``image`` (else ``thumbnailUrl``): a URL, an ImageObject, a list of either
    (its first ImageObject with a URL wins, else its first URL), or a reference
    (``{"@id": ...}``, as Yoast writes) to an ImageObject among ``graph``. An ImageObject gives
    its ``caption`` and a credit from ``creditText``, ``copyrightHolder``, ``creator`` or
    ``author``."""
    raw = obj.get("image") or obj.get("thumbnailUrl")
    items = raw if isinstance(raw, list) else [raw]
    objects = [_resolve(item, graph) for item in items[:20] if isinstance(item, dict)]
    for item in objects:
        src = item.get("url") or item.get("contentUrl")
        url = canonical_url(src, base) if isinstance(src, str) else None
        if url:
            credit = None
            for key in ("creditText", "copyrightHolder", "creator", "author"):
                credit = credit or _string(item.get(key))
            return Image(url, _string(item.get("caption")), credit)
    for value in items[:20]:
        url = canonical_url(value, base) if isinstance(value, str) else None
        if url:
            return Image(url)
    return None


def _resolve(item: dict[str, Any], graph: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """The object a bare ``{"@id": ...}`` reference names, else the item itself."""
    ref = item.get("@id")
    if isinstance(ref, str) and not (item.keys() - {"@id", "@type"}):
        for candidate in graph:
            if candidate.get("@id") == ref and candidate is not item:
                return candidate
    return item


def breadcrumb_section(meta: PageMeta, position: int = 2) -> str | None:
    """The label of a BreadcrumbList item (position 2 is the section after "Home")."""
    for crumbs in meta.objects("BreadcrumbList"):
        items = crumbs.get("itemListElement")
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, dict) and str(item.get("position")) == str(position):
                name = _string(item.get("name")) or _string(item.get("item"))
                if name:
                    return name
    return None


def first_date(*values: str | None) -> str | None:
    """The first value that reads as a date, in ISO form keeping its offset."""
    for value in values:
        normalized = dates.normalize(value)
        if normalized:
            return normalized
    return None
