"""The Moscow Times' article body: the ``.article__block--<kind>`` blocks inside
``.article__content``, in order. Ad banners sit INSIDE the second block; related insets
(``--article``), teaser links (``--link``) and newsletter boxes are blocks too, but not body
text: they go to ``related`` or nowhere.

Editors do not always wrap an ``html`` block's text in ``<p>``: pasted copy and old pieces
carry bare text with ``<br>`` line breaks, or a ``<div>`` holding a sentence. Each run of such
text between ``<br><br>`` and each text-holding ``<div>`` is a paragraph, in document order with
the ``<p>`` around it.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.extract.html import inline, inline_run, squash, text_of
from worker.model import Block, Image, Link
from worker.parse.urls import canonical_url

SKIP_INLINE = frozenset({"section", "ins", "iframe", "script", "style", "form", "button", "aside"})
_BLOCK_KIND = re.compile(r"\barticle__block--([a-z0-9_-]+)")
# Class words of boxes that are never body text (banners, appeals, share bars, the disclaimer);
# whole words, so "lead-in" or "thread" are not taken for an ad.
_FURNITURE_CLASS = re.compile(
    r"(?:^|[\s_-])(?:banner\w*|advert\w*|ads?|adsbygoogle|newsletter\w*|contribute\w*|"
    r"donat\w*|subscri\w*|promo\w*|share|social|disclaimer)(?:$|[\s_-])",
    re.IGNORECASE,
)
_FURNITURE_TAGS = frozenset(
    {"section", "ins", "script", "style", "noscript", "template", "form", "button", "iframe"}
)
# Elements that end a run of loose text; anything else (a, em, span, font...) is part of it.
_BLOCK_TAGS = frozenset(
    {
        *("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "blockquote"),
        *("figure", "table", "pre", "hr", "aside", "article", "header", "footer", "nav"),
        *("center", "address", "main"),
        *_FURNITURE_TAGS,
    }
)
_MAX_NESTING = 32  # divs inside divs deeper than this are read as one paragraph


def _is_ad(node: LexborNode) -> bool:
    return (
        node.tag in _FURNITURE_TAGS
        or _FURNITURE_CLASS.search(node.attributes.get("class") or "") is not None
    )


def figure_image(figure: LexborNode, base: str, prefix: str) -> Image | None:
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


def _paragraphs(run: list[LexborNode], base: str, blocks: list[Block]) -> None:
    """Loose text and inline elements as paragraphs, split where two or more ``<br>`` meet
    (white space between them aside); a single ``<br>`` stays a line break inside one."""
    pieces: list[list[LexborNode]] = [[]]
    breaks: list[LexborNode] = []
    for node in run:
        if node.tag == "br":
            breaks.append(node)
        elif node.tag == "-text" and not (node.text_content or "").strip():
            if breaks:
                breaks.append(node)
            else:
                pieces[-1].append(node)
        else:
            if len([b for b in breaks if b.tag == "br"]) >= 2:
                pieces.append([])
            else:
                pieces[-1].extend(breaks)
            breaks = []
            pieces[-1].append(node)
    for piece in pieces:
        content = inline_run(piece, base, SKIP_INLINE)
        if content.text:
            blocks.append(Block("paragraph", text=content.text, markdown=content.markdown))


def _html_block(node: LexborNode, base: str, depth: int = 0) -> list[Block]:
    """An ``html`` block: paragraphs (wrapped in ``<p>`` or not), subheadings, lists, quotes,
    tables, images; ad banners skipped."""
    blocks: list[Block] = []
    run: list[LexborNode] = []
    loose = False  # the run holds more than white space
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-comment":
            continue
        if tag == "-text" or tag not in _BLOCK_TAGS:  # loose text, <br> and inline elements
            run.append(child)
            loose = loose or tag != "-text" or bool((child.text_content or "").strip())
            continue
        if loose:
            _paragraphs(run, base, blocks)
        run, loose = [], False
        if tag == "p":  # the common case first: banners are never paragraphs
            content = inline(child, base, SKIP_INLINE)
            if content.text:
                blocks.append(Block("paragraph", text=content.text, markdown=content.markdown))
        elif _is_ad(child):
            continue
        elif tag in ("h2", "h3", "h4", "h5", "h6"):
            content = inline(child, base)
            if content.text:
                blocks.append(
                    Block(
                        "heading", text=content.text, markdown=content.markdown, level=int(tag[1])
                    )
                )
        elif tag in ("ul", "ol"):
            items = [item for item in (inline(li, base) for li in child.css("li")) if item.text]
            if items:
                blocks.append(
                    Block(
                        "list",
                        text="\n".join(item.text for item in items),
                        items=tuple(item.markdown for item in items),
                    )
                )
        elif tag == "blockquote":
            blocks.append(_quote(child, base))
        elif tag == "figure":
            image = figure_image(child, base, "article__image")
            if image:
                blocks.append(
                    Block("image", url=image.url, caption=image.caption, credit=image.credit)
                )
        elif tag == "table":
            table = _table(child)
            if table:
                blocks.append(table)
        elif tag in ("hr", "nav", "aside"):
            continue
        elif depth < _MAX_NESTING:  # a div (or the like) holding text: its own paragraphs
            blocks.extend(_html_block(child, base, depth + 1))
        else:
            _paragraphs([child], base, blocks)
    if loose:
        _paragraphs(run, base, blocks)
    return blocks


def _table(node: LexborNode) -> Block | None:
    rows = []
    for row in node.css("tr"):
        cells = [squash(cell.text(deep=True, separator=" ")) for cell in row.css("td, th")]
        if any(cells):
            rows.append(" | ".join(cells))
    return Block("table", text="\n".join(rows), items=tuple(rows)) if rows else None


def _quote(node: LexborNode, base: str) -> Block:
    cite = text_of(node.css_first("cite"))
    content = inline(node, base, frozenset({"cite"}))
    return Block("quote", text=content.text, markdown=content.markdown, cite=cite)


def embed(node: LexborNode, base: str) -> Block | None:
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


_HEADLINE = "[class*=__title], [class*=__headline], h2, h3, h4, h5, h6"


def _teasers(node: LexborNode, base: str) -> list[Link]:
    """A teaser link block: its title is the teaser's headline element alone (the description
    beside it is not part of it), else the link's title attribute, else the link's text."""
    headline = node.css_first(_HEADLINE)
    anchor = _link_around(headline, node) if headline is not None else None
    anchor = anchor or node.css_first("a[href]")
    if anchor is None:
        return []
    url = canonical_url(anchor.attributes.get("href") or "", base)
    title = text_of(headline) or squash(anchor.attributes.get("title")) or text_of(anchor)
    return [Link(title, url, "link")] if url and title else []


def _link_around(node: LexborNode, block: LexborNode) -> LexborNode | None:
    """The link that is ``node`` or holds it, inside ``block``; else the one inside it."""
    at: LexborNode | None = node
    while at is not None and at != block:
        if at.tag == "a" and at.attributes.get("href"):
            return at
        at = at.parent
    return node.css_first("a[href]")


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
                image = figure_image(figure, base, "article__image")
                if image:
                    blocks.append(
                        Block("image", url=image.url, caption=image.caption, credit=image.credit)
                    )
        elif kind == "embed":
            found = embed(node, base)
            if found:
                blocks.append(found)
        elif kind == "aside":
            content_ = inline(node, base, SKIP_INLINE)
            if content_.text:
                blocks.append(Block("aside", text=content_.text, markdown=content_.markdown))
        elif kind == "article":
            related.extend(_related(node, base))
        elif kind == "link":
            related.extend(_teasers(node, base))
        elif (
            kind == "newsletter"
            or _is_ad(node)
            or "live-posts" in (node.attributes.get("class") or "")
        ):
            continue  # live posts are read by live_posts(), each under its time
        else:
            if kind is not None:
                warnings.append(f"unknown block kind {kind!r}")
            blocks.extend(_html_block(node, base))
    return blocks, related, warnings


def live_posts(tree: LexborHTMLParser, base: str) -> list[Block]:
    blocks: list[Block] = []
    for post in tree.css("div.live-posts div.live-post"):
        when = text_of(post.css_first(".live-post__date"))
        post_body = post.css_first(".live-post__body")
        if when:
            blocks.append(Block("heading", text=when, markdown=when, level=3))
        if post_body is not None:
            blocks.extend(_html_block(post_body, base) or [])
    return blocks
