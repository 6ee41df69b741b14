"""The ``moscowtimes`` profile: The Moscow Times' article pages, field by field.

The page structure and its traps are mapped in the project's source notes
(shared/sources/moscowtimes.md); the short version:

- the body is the ``.article__block--<kind>`` blocks inside ``.article__content``; everything
  outside (donation and newsletter boxes, "Most read", "Read more") is furniture;
- ad banners sit INSIDE the second block; related insets (``--article``), teaser links
  (``--link``) and newsletter boxes are blocks too, but not body text;
- the byline's ``time[datetime]`` is the UPDATE time on updated pieces ("Updated:"), so
  publication comes from ``article:published_time`` / JSON-LD;
- ``article:author`` and JSON-LD name the first author only; the byline names them all;
- ``article:section`` is broken (only ``news`` or ``ukraine_war``): the section is the
  BreadcrumbList's item 2; ``og:image`` is a share card, not the lead photo;
- one JSON-LD block (WebSite) is invalid JSON and must not sink the others.

Where a selector finds nothing, the field falls back to JSON-LD and meta, and the body to the
generic extractor; ``Extracted.fallbacks`` names each field that did.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.extract.html import inline, squash, text_of
from worker.extract.meta import PageMeta
from worker.extract.profiles import metadata as md
from worker.model import Author, Block, Extracted, Image, Link
from worker.parse.feeds import FeedEntry
from worker.parse.urls import canonical_url

NAME = "moscowtimes"
_SKIP_INLINE = frozenset({"section", "ins", "iframe", "script", "style", "form", "button", "aside"})
_KIND = re.compile(r"\barticle--([a-z0-9_-]+)")
_BLOCK_KIND = re.compile(r"\barticle__block--([a-z0-9_-]+)")
_FEED_CATEGORY = re.compile(r"^[^-]+-\s*(.+)$")


_ARTICLE_OPEN = re.compile(r'<article\s+class="article[\s"]')


def focus(html: str) -> str | None:
    """The page cut down to its ``<head>`` and its main ``<article>``, or None if those cannot
    be found safely. Most of a real page's weight is menus, sidebars, sprites and scripts after
    the article; parsing only what the profile reads makes it several times faster. Anything
    unexpected (no head, no article, a nested article) returns None: the whole page is parsed."""
    head_end = html.find("</head>")
    match = _ARTICLE_OPEN.search(html, max(head_end, 0))
    if head_end < 0 or match is None:
        return None
    end = html.find("</article>", match.end())
    if end < 0 or html.find("<article", match.end(), end) >= 0:
        return None
    return f"{html[:head_end]}</head><body>{html[match.start() : end]}</article></body></html>"


def _is_ad(node: LexborNode) -> bool:
    classes = (node.attributes.get("class") or "").lower()
    return node.tag in ("section", "ins", "script", "style", "noscript") or any(
        word in classes for word in ("banner", "advert", "adsbygoogle", "ad-", "newsletter")
    )


def _image(figure: LexborNode, base: str, prefix: str) -> Image | None:
    img = figure.css_first("img")
    src = None
    if img is not None:
        attrs = img.attributes
        src = attrs.get("src") or attrs.get("data-src")
    url = canonical_url(src, base) if src else None
    if url is None:
        return None
    caption = text_of(figure.css_first(f".{prefix}__caption"))
    credit = text_of(figure.css_first(f".{prefix}__credits"))
    return Image(url, caption, credit)


def _html_block(node: LexborNode, base: str) -> list[Block]:
    """An ``html`` block: paragraphs, subheadings, lists, quotes; ad banners skipped."""
    blocks: list[Block] = []
    loose: list[LexborNode] = []
    for child in node.iter(include_text=False):
        tag = child.tag
        if tag == "p":  # the common case first: banners are never paragraphs
            content = inline(child, base, _SKIP_INLINE)
            if content.text:
                blocks.append(Block("paragraph", text=content.text, markdown=content.markdown))
        elif _is_ad(child):
            continue
        elif tag in ("h2", "h3", "h4", "h5"):
            content = inline(child, base)
            if content.text:
                blocks.append(
                    Block(
                        "heading", text=content.text, markdown=content.markdown, level=int(tag[1])
                    )
                )
        elif tag in ("ul", "ol"):
            items = tuple(
                item.markdown for item in (inline(li, base) for li in child.css("li")) if item.text
            )
            if items:
                blocks.append(Block("list", text="\n".join(items), items=items))
        elif tag == "blockquote":
            blocks.append(_quote(child, base))
        elif tag == "figure":
            image = _image(child, base, "article__image")
            if image:
                blocks.append(
                    Block("image", url=image.url, caption=image.caption, credit=image.credit)
                )
        else:
            loose.append(child)
    if not blocks and loose:
        content = inline(node, base, _SKIP_INLINE | {"div"})
        if content.text:
            blocks.append(Block("paragraph", text=content.text, markdown=content.markdown))
    return blocks


def _quote(node: LexborNode, base: str) -> Block:
    cite = text_of(node.css_first("cite"))
    content = inline(node, base, frozenset({"cite"}))
    return Block("quote", text=content.text, markdown=content.markdown, cite=cite)


def _embed(node: LexborNode, base: str) -> Block | None:
    url = None
    telegram = node.css_first("[data-telegram-post]")
    if telegram is not None:
        url = f"https://t.me/{telegram.attributes.get('data-telegram-post')}"
    if url is None:
        tweet_links = node.css("blockquote a[href]")
        if tweet_links:
            url = canonical_url(tweet_links[-1].attributes.get("href") or "", base)
    if url is None:
        frame = node.css_first("iframe[src]")
        if frame is not None:
            url = canonical_url(frame.attributes.get("src") or "", base)
    text = text_of(node.css_first("blockquote"))
    if url is None and not text:
        return None
    return Block("embed", url=url, text=text or "")


def _related(node: LexborNode, base: str) -> list[Link]:
    links = []
    for aside in node.css("aside.article__related-article"):
        anchor = aside.css_first("a.related-article__inner") or aside.css_first("a[href]")
        title = text_of(aside.css_first(".related-article__title"))
        if anchor is not None:
            title = title or squash(anchor.attributes.get("title")) or None
        url = canonical_url(anchor.attributes.get("href") or "", base) if anchor else None
        if title and url:
            label = text_of(aside.css_first(".related-article__label"))
            links.append(Link(title, url, label))
    return links


def _teasers(node: LexborNode, base: str) -> list[Link]:
    links = []
    for anchor in node.css("a[href]"):
        url = canonical_url(anchor.attributes.get("href") or "", base)
        title = text_of(anchor) or squash(anchor.attributes.get("title")) or None
        if url and title:
            links.append(Link(title, url, "link"))
    return links[:1]


def body(content: LexborNode, base: str) -> tuple[list[Block], list[Link], list[str]]:
    """Blocks, related links and warnings from ``.article__content``."""
    blocks: list[Block] = []
    related: list[Link] = []
    warnings: list[str] = []
    for node in content.iter(include_text=False):
        match = _BLOCK_KIND.search(node.attributes.get("class") or "")
        kind = match.group(1) if match else None
        if kind == "html":
            blocks.extend(_html_block(node, base))
        elif kind == "header":
            heading = node.css_first("h2, h3, h4")
            content_ = inline(heading or node, base)
            if content_.text:
                level = int((heading.tag or "h2")[1]) if heading is not None else 2
                blocks.append(
                    Block("heading", text=content_.text, markdown=content_.markdown, level=level)
                )
        elif kind == "quote":
            quote = node.css_first("blockquote") or node
            blocks.append(_quote(quote, base))
        elif kind in ("image", "images"):
            for figure in node.css("figure"):
                image = _image(figure, base, "article__image")
                if image:
                    blocks.append(
                        Block("image", url=image.url, caption=image.caption, credit=image.credit)
                    )
        elif kind == "embed":
            embed = _embed(node, base)
            if embed:
                blocks.append(embed)
        elif kind == "aside":
            content_ = inline(node, base, _SKIP_INLINE)
            if content_.text:
                blocks.append(Block("aside", text=content_.text, markdown=content_.markdown))
        elif kind == "article":
            related.extend(_related(node, base))
        elif kind == "link":
            related.extend(_teasers(node, base))
        elif kind == "newsletter" or _is_ad(node):
            continue
        else:
            if kind is not None:
                warnings.append(f"unknown block kind {kind!r}")
            blocks.extend(_html_block(node, base))
    return blocks, related, warnings


def _live_posts(tree: LexborHTMLParser, base: str) -> list[Block]:
    blocks: list[Block] = []
    for post in tree.css("div.live-posts div.live-post"):
        when = text_of(post.css_first(".live-post__date"))
        post_body = post.css_first(".live-post__body")
        if when:
            blocks.append(Block("heading", text=when, markdown=when, level=3))
        if post_body is not None:
            blocks.extend(_html_block(post_body, base) or [])
    return blocks


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
    lead_image = _image(figure, url, "article__featured-image") if figure is not None else None
    blocks: list[Block] = []
    related: list[Link] = []
    if content is not None:
        blocks, related, block_warnings = body(content, url)
        warnings.extend(block_warnings)
    video = scope.css_first("figure.videoheader") if scope is not None else None
    if video is not None:
        lead_video = _embed(video, url)
        if lead_video:
            blocks.insert(0, lead_video)
    blocks.extend(_live_posts(tree, url))

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
