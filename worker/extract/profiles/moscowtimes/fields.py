"""The Moscow Times' article fields from one parsed page: header, byline, dates, section, tags,
lead image, body (:mod:`.blocks`), kind, label and the opinion disclaimer. Each field falls back
to JSON-LD and meta when its selector finds nothing, and says so in ``fallbacks``. What a
redesign changed (the byline's authors and dates, the lead image) each layout reads its own way:
its :class:`Parts`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.extract.html import squash, text_of
from worker.extract.meta import PageMeta
from worker.extract.profiles import metadata as md
from worker.extract.profiles.moscowtimes.blocks import body, embed, live_posts
from worker.model import Author, Block, Extracted, Image, Link
from worker.parse.feeds import FeedEntry
from worker.parse.urls import canonical_url

NAME = "moscowtimes"
_KIND = re.compile(r"\barticle--([a-z0-9_-]+)")
_FEED_CATEGORY = re.compile(r"^[^-]+-\s*(.+)$")
# The opinion disclaimer's opening, for one an editor left inside the body without its box.
DISCLAIMER_OPENING = "The views expressed in opinion pieces"


@dataclass(frozen=True)
class Parts:
    """The readers of what one layout marks up its own way (each takes the article's scope,
    or the page's body where it has no ``<article>``, and the page URL)."""

    authors: Callable[[LexborNode, str], tuple[Author, ...]]
    # (publication, update) as the byline shows them, either None
    dates: Callable[[LexborNode], tuple[str | None, str | None]]
    lead_image: Callable[[LexborNode, str], Image | None]


def byline_authors(byline: LexborNode | None, selector: str, base: str) -> tuple[Author, ...]:
    """Every author named by ``selector`` in the byline: a link (with its profile URL) or a
    ``span`` (archive pieces); an empty name (a missing byline) is none."""
    if byline is None:
        return ()
    authors = []
    for node in byline.css(selector):
        name = md.clean_author(text_of(node) or node.attributes.get("title"))
        if name:
            href = node.attributes.get("href") if node.tag == "a" else None
            authors.append(Author(name, canonical_url(href, base) if href else None))
    return md.unique_authors(authors)


def _disclaimer(scope: LexborNode, blocks: list[Block], opinion: bool) -> str | None:
    """The disclaimer box's text; one left in the body as a paragraph is moved out of it."""
    box = scope.css_first(".article__disclaimer, .disclaimer")
    if box is None and opinion:  # any box named so; only opinion pieces carry one
        box = scope.css_first("[class*=disclaimer]")
    found = text_of(box)
    for block in list(blocks):
        if block.type in ("paragraph", "aside") and block.text.startswith(DISCLAIMER_OPENING):
            blocks.remove(block)
            found = found or block.text
    return found


def extract(
    tree: LexborHTMLParser, meta: PageMeta, url: str, entry: FeedEntry | None, parts: Parts
) -> Extracted:
    """The record fields of a Moscow Times page in the layout whose ``parts`` are given."""
    fallbacks: list[str] = []
    warnings: list[str] = []
    article = tree.css_first("article.article") or tree.css_first("article")
    scope = article or tree.body or tree.root
    if scope is None:  # an empty document: lexbor gives every other one a body
        return Extracted(canonical_url=url, method=NAME)
    header = scope.css_first(".article__header")
    content = tree.css_first(".article__content")
    title_node = header.css_first("h1") if header is not None else None
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

    # No author element means no byline (the metadata then names "The Moscow Times").
    authors = parts.authors(scope, url)
    shown_published, shown_updated = parts.dates(scope)
    published = md.first_date(
        meta.first("article:published_time"), md.ld_string(obj, "datePublished")
    )
    if published is None:
        fallbacks.append("published_at")
        published = md.first_date(shown_published, entry.published if entry else None)
    updated = md.first_date(
        meta.first("article:modified_time"), md.ld_string(obj, "dateModified"), shown_updated
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

    blocks: list[Block] = []
    related: list[Link] = []
    if content is not None:
        blocks, related, block_warnings = body(content, url)
        warnings.extend(block_warnings)
    video = scope.css_first("figure.videoheader")
    if video is not None:
        lead_video = embed(video, url)
        if lead_video:
            blocks.insert(0, lead_video)
    blocks.extend(live_posts(tree, url))

    kind_match = (
        _KIND.search(article.attributes.get("class") or "") if article is not None else None
    )
    label = text_of(header.css_first(".article__label")) if header is not None else None
    kind = kind_match.group(1) if kind_match else None
    disclaimer = _disclaimer(scope, blocks, kind == "opinion" or label is not None)
    canonical = meta.canonical
    if canonical is None and title_node is not None:
        link = title_node.css_first("a[href]")
        canonical = canonical_url(link.attributes.get("href") or "", url) if link else None

    return Extracted(
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
        lead_image=parts.lead_image(scope, url),
        body=tuple(blocks),
        related=tuple(dict.fromkeys(related)),
        kind=kind,
        label=label,
        disclaimer=disclaimer,
        canonical_url=canonical or url,
        method=NAME,
        fallbacks=tuple(fallbacks),
        warnings=tuple(warnings),
    )
