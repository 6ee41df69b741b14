"""The Moscow Times' article body: the ``.article__block--<kind>`` blocks inside
``.article__content``, in order. Ad banners sit INSIDE the second block; related insets
(``--article``), teaser links (``--link``) and newsletter boxes are blocks too, but not body
text: they go to ``related`` or nowhere.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.extract.html import inline, squash, text_of
from worker.model import Block, Image, Link
from worker.parse.urls import canonical_url

SKIP_INLINE = frozenset({"section", "ins", "iframe", "script", "style", "form", "button", "aside"})
_BLOCK_KIND = re.compile(r"\barticle__block--([a-z0-9_-]+)")


def _is_ad(node: LexborNode) -> bool:
    classes = (node.attributes.get("class") or "").lower()
    return node.tag in ("section", "ins", "script", "style", "noscript") or any(
        word in classes for word in ("banner", "advert", "adsbygoogle", "ad-", "newsletter")
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


def _html_block(node: LexborNode, base: str) -> list[Block]:
    """An ``html`` block: paragraphs, subheadings, lists, quotes; ad banners skipped."""
    blocks: list[Block] = []
    loose: list[LexborNode] = []
    for child in node.iter(include_text=False):
        tag = child.tag
        if tag == "p":  # the common case first: banners are never paragraphs
            content = inline(child, base, SKIP_INLINE)
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
            image = figure_image(child, base, "article__image")
            if image:
                blocks.append(
                    Block("image", url=image.url, caption=image.caption, credit=image.credit)
                )
        else:
            loose.append(child)
    if not blocks and loose:
        content = inline(node, base, SKIP_INLINE | {"div"})
        if content.text:
            blocks.append(Block("paragraph", text=content.text, markdown=content.markdown))
    return blocks


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
        elif kind == "newsletter" or _is_ad(node):
            continue
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
