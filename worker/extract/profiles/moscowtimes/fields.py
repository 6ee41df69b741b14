"""The Moscow Times' article fields from one parsed page: header, byline, dates, section, tags,
lead image, body (:mod:`.blocks`), kind and label. Each field falls back to JSON-LD and meta when
its selector finds nothing, and says so in ``fallbacks``.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.extract.html import squash, text_of
from worker.extract.meta import PageMeta
from worker.extract.profiles import metadata as md
from worker.extract.profiles.moscowtimes.blocks import body, embed, figure_image, live_posts
from worker.model import Author, Block, Extracted, Link
from worker.parse.feeds import FeedEntry
from worker.parse.urls import canonical_url

NAME = "moscowtimes"
_KIND = re.compile(r"\barticle--([a-z0-9_-]+)")
_FEED_CATEGORY = re.compile(r"^[^-]+-\s*(.+)$")


def _authors(byline: LexborNode | None, base: str) -> tuple[Author, ...]:
    if byline is None:
        return ()
    authors = []
    for node in byline.css(".byline__author__name"):
        name = md.clean_author(text_of(node) or node.attributes.get("title"))
        if name:
            href = node.attributes.get("href") if node.tag == "a" else None
            authors.append(Author(name, canonical_url(href, base) if href else None))
    return md.unique_authors(authors)


def extract(
    tree: LexborHTMLParser, meta: PageMeta, url: str, entry: FeedEntry | None
) -> tuple[Extracted, bool]:
    """The record fields of a Moscow Times page; the flag says whether the profile matched."""
    fallbacks: list[str] = []
    warnings: list[str] = []
    article = tree.css_first("article.article") or tree.css_first("article")
    scope = article or tree.body
    header = scope.css_first(".article__header") if scope is not None else None
    content = tree.css_first(".article__content")
    title_node = header.css_first("h1") if header is not None else None
    matched = title_node is not None or content is not None
    obj = md.article_object(meta)

    title = text_of(title_node)
    if title is None:
        fallbacks.append("title")
        title = (
            md.ld_string(obj, "headline")
            or meta.first("og:title")
            or (entry.title if entry else None)
        )
    subtitle = text_of(header.css_first("h2")) if header is not None else None

    byline = tree.css_first(".article__byline") or tree.css_first(".byline")
    authors = _authors(byline, url)
    if not authors and not matched:
        fallbacks.append("authors")
        authors = md.ld_authors(obj, url) or md.meta_authors(meta)

    byline_time = byline.css_first("time[datetime]") if byline is not None else None
    byline_when = byline_time.attributes.get("datetime") if byline_time is not None else None
    updated_shown = byline is not None and "updated" in (text_of(byline) or "").lower()
    published = md.first_date(
        meta.first("article:published_time"), md.ld_string(obj, "datePublished")
    )
    if published is None:
        fallbacks.append("published_at")
        published = md.first_date(
            None if updated_shown else byline_when, entry.published if entry else None
        )
    updated = md.first_date(
        meta.first("article:modified_time"),
        md.ld_string(obj, "dateModified"),
        byline_when if updated_shown else None,
    )

    section = md.breadcrumb_section(meta)
    if section is None and entry is not None and entry.categories:
        fallbacks.append("section")
        category = entry.categories[0]
        found = _FEED_CATEGORY.match(category)
        section = squash(found.group(1)) if found else category

    tags = tuple(
        dict.fromkeys(
            t for a in tree.css(".article__tags a.article__tags__tag") if (t := text_of(a))
        )
    )
    if not tags:
        tags = md.ld_keywords(obj) or md.meta_keywords(meta)
        if tags:
            fallbacks.append("tags")

    figure = scope.css_first("figure.article__featured-image") if scope is not None else None
    lead_image = (
        figure_image(figure, url, "article__featured-image") if figure is not None else None
    )
    blocks: list[Block] = []
    related: list[Link] = []
    if content is not None:
        blocks, related, block_warnings = body(content, url)
        warnings.extend(block_warnings)
    video = scope.css_first("figure.videoheader") if scope is not None else None
    if video is not None:
        lead_video = embed(video, url)
        if lead_video:
            blocks.insert(0, lead_video)
    blocks.extend(live_posts(tree, url))

    kind_match = (
        _KIND.search(article.attributes.get("class") or "") if article is not None else None
    )
    label = text_of(header.css_first(".article__label")) if header is not None else None
    canonical = meta.canonical
    if canonical is None and title_node is not None:
        link = title_node.css_first("a[href]")
        canonical = canonical_url(link.attributes.get("href") or "", url) if link else None

    extracted = Extracted(
        title=title,
        subtitle=subtitle,
        authors=authors,
        published_at=published,
        updated_at=updated,
        section=section,
        tags=tags,
        language=meta.language or "en",
        description=meta.first("description", "og:description")
        or md.ld_string(obj, "description")
        or (entry.summary if entry else None),
        lead_image=lead_image,
        body=tuple(blocks),
        related=tuple(dict.fromkeys(related)),
        kind=kind_match.group(1) if kind_match else None,
        label=label,
        canonical_url=canonical or url,
        method=NAME,
        fallbacks=tuple(fallbacks),
        warnings=tuple(warnings),
    )
    return extracted, matched
