"""The lead image's caption and credit from the page's ``<figure>`` markup.

A page's metadata names its lead image (JSON-LD, ``og:image``) but seldom its caption or credit;
the ``<figure>`` around that image in the page usually has both: the ``<figcaption>``, and in it
an element marked as the credit (``class="credit"``, ``itemprop=copyrightHolder``, ``<cite>``...)
or a trailing "Photo: ..." / "(AP Photo/...)" / "© ...". The figure is the one whose image is the
lead image (the same file, whatever size the page serves), else the first figure of the
article's container where it comes before the container's first paragraph.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.extract.html import squash
from worker.model import Image
from worker.parse.urls import canonical_url

_CREDIT_LABEL = re.compile(
    r"credit|copyright|photographer|courtesy|source|byline|author|attribution", re.IGNORECASE
)
_CREDIT_PROPS = frozenset({"copyrightholder", "credittext", "author", "creator"})
_LABEL = r"(?:photo(?:graph)?|image|picture|foto|bild|credit|source|quelle|crédit)s?"
# A credit written at the end of the caption text: "(AP Photo/Evan Vucci)", "Photo: X",
# "Photograph by X", "Foto: X", "© X".
_TRAILING_CREDITS = (
    re.compile(
        r"\((?P<credit>[^()]*\b(?:photo|foto|image|credit|getty|reuters|afp|ap|epa|dpa)\b"
        r"[^()]*)\)[\s.]*$",
        re.IGNORECASE,
    ),
    re.compile(rf"(?:^|\s){_LABEL}\s*(?:by\s+|via\s+|:\s*)(?P<credit>[^:]{{2,120}}?)[\s.]*$", re.I),
    re.compile(r"(?:©|\(c\))\s*(?P<credit>[^:]{2,120}?)[\s.]*$", re.IGNORECASE),
)
_CREDIT_PREFIX = re.compile(rf"^{_LABEL}\s*(?:by|via|:)\s*", re.IGNORECASE)
# Text for screen readers only ("Image:", BBC's "Media caption").
_HIDDEN = re.compile(r"visually-hidden|sr-only|screen-reader|off-?screen", re.IGNORECASE)
_SIZE_SUFFIX = re.compile(r"(?:[-_]\d{2,5}x\d{2,5}|[-_](?:scaled|large|medium|small|thumb))$")
_SOURCES = ("src", "data-src", "data-lazy-src", "data-original", "srcset", "data-srcset")


def file_key(url: str | None) -> str | None:
    """The image's file name without extension and size suffixes (``photo-990x574.jpg`` and
    ``photo.webp`` are the same picture), or None."""
    if not url:
        return None
    name = url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1].lower()
    stem = name.rsplit(".", 1)[0] if "." in name else name
    while True:
        shorter = _SIZE_SUFFIX.sub("", stem)
        if shorter == stem:
            break
        stem = shorter
    return stem if len(stem) >= 4 else None


def _image_urls(figure: LexborNode) -> list[str]:
    urls: list[str] = []
    for img in figure.css("img, source"):
        for attribute in _SOURCES:
            value = img.attributes.get(attribute)
            if not value:
                continue
            if "srcset" in attribute:
                urls.extend(part.strip().split(" ")[0] for part in value.split(",") if part.strip())
            else:
                urls.append(value.strip())
    return urls


def _is_credit(node: LexborNode) -> bool:
    attrs = node.attributes
    props = set((attrs.get("itemprop") or "").lower().split())
    if props & _CREDIT_PROPS or node.tag == "cite":
        return True
    label = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
    return bool(label.strip()) and _CREDIT_LABEL.search(label) is not None


def caption_and_credit(figure: LexborNode) -> tuple[str | None, str | None]:
    """(caption, credit) of a figure; either may be None."""
    caption_node = figure.css_first("figcaption")
    if caption_node is None:
        return None, None
    parts = LexborHTMLParser(caption_node.html or "").css_first("figcaption")
    if parts is None:
        return None, None
    # Innermost first, so no node is removed after its ancestor.
    for node in reversed(parts.css("[class]")):
        if _HIDDEN.search(node.attributes.get("class") or "") and node.tag != "figcaption":
            node.decompose()
    credit = None
    # Document order: the outermost credit element comes first; one is enough.
    for node in parts.css("*"):
        if node.tag != "figcaption" and _is_credit(node):
            credit = squash(node.text(deep=True, separator=" ")) or None
            node.decompose()
            break
    caption = squash(parts.text(deep=True, separator=" "))
    if credit is None:
        return split_credit(caption)
    return caption or None, _clean_credit(credit)


def split_credit(text: str | None) -> tuple[str | None, str | None]:
    """(caption, credit) of a caption that may end with its credit ("... (AP Photo/X)")."""
    if not text:
        return None, None
    for pattern in _TRAILING_CREDITS:
        match = pattern.search(text)
        if match:
            return text[: match.start()].rstrip() or None, _clean_credit(match.group("credit"))
    return text, None


def _clean_credit(credit: str | None) -> str | None:
    if not credit:
        return None
    credit = _CREDIT_PREFIX.sub("", squash(credit).strip(" ()[]")).lstrip("© ")
    return credit.rstrip(" .") or None


def lead_figure(
    tree: LexborHTMLParser, image_url: str | None, container: LexborNode | None
) -> LexborNode | None:
    """The figure showing the lead image, else the container's figure before its text."""
    key = file_key(image_url)
    if key is not None:
        for figure in tree.css("figure"):
            if any(file_key(src) == key for src in _image_urls(figure)):
                return figure
    if container is None:
        return None
    for node in container.traverse():
        if node.tag == "figure" and node.css_first("img") is not None:
            return node
        if node.tag == "p" and len(squash(node.text(deep=True))) >= 80:
            return None  # the text began first: a figure after it is not the lead image
    return None


def with_figure(
    image: Image | None, tree: LexborHTMLParser, container: LexborNode | None, base: str
) -> Image | None:
    """``image`` with the caption and credit the metadata lacked taken from its figure (or a
    credit from the end of the metadata's caption); where the metadata names no image, the
    container's leading figure gives one."""
    if image is not None and image.caption and not image.credit:
        caption, credit = split_credit(image.caption)
        image = Image(image.url, caption, credit)
    if image is not None and image.caption and image.credit:
        return image
    figure = lead_figure(tree, image.url if image else None, container)
    if figure is None:
        return image
    caption, credit = caption_and_credit(figure)
    if image is None:
        src = next((u for u in _image_urls(figure) if not u.startswith("data:")), None)
        url = canonical_url(src, base) if src else None
        return Image(url, caption, credit) if url else None
    return Image(image.url, image.caption or caption, image.credit or credit)
