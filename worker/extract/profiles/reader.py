"""Our own reading of an article's container into blocks, for where trafilatura loses part of it.

Inside a container trafilatura keeps to one body element: where a page splits its body into
several (Wired's chunks between its embeds), it can return the first part only.
This reader walks the whole container instead: paragraphs, headings, lists, quotes, tables and
loose text, skipping what is furniture by its tag (``nav``, ``aside``, ``figure``, ``form``...)
or by a class or id (share, related, newsletter, ad, caption, byline...). It is less careful
than trafilatura inside a body, so it is used only where it finds much more text.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborNode

from worker.extract.html import inline, squash
from worker.model import Block

_SKIP = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "svg",
        "form",
        "button",
        "select",
        "input",
        "textarea",
        "nav",
        "aside",
        "figure",
        "figcaption",
        "header",
        "footer",
        "label",
        "object",
        "embed",
        "video",
        "audio",
        "canvas",
        "dialog",
    ]
)
_INLINE = frozenset(
    [
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "cite",
        "code",
        "data",
        "dfn",
        "em",
        "font",
        "i",
        "kbd",
        "mark",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "time",
        "u",
        "var",
        "wbr",
        "del",
        "ins",
        "img",
        "picture",
        "source",
    ]
)
_HEADINGS = {"h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_FURNITURE = re.compile(
    r"(?:^|[-_\s])(?:share|sharing|social|related|newsletter|promo|advert\w*|ads?|sponsor\w*|"
    r"comments?|subscribe|signup|sidebar|widget|recommend\w*|popular|trending|most-?read|"
    r"read-?more|more-stories|byline|author|caption|credit|tags?|breadcrumbs?|toolbar|outbrain|"
    r"taboola|hidden|print|disclaimer|meta|inline-?ad|embed)(?:$|[-_\s])",
    re.IGNORECASE,
)
_SOCIAL_EMBED = re.compile(r"twitter|instagram|tiktok|facebook", re.IGNORECASE)
MAX_DEPTH = 200


def _furniture(node: LexborNode) -> bool:
    if node.tag in _SKIP:
        return True
    attrs = node.attributes
    if "hidden" in attrs or attrs.get("aria-hidden") == "true":
        return True
    label = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
    return bool(label.strip()) and _FURNITURE.search(label) is not None


class _Reader:
    def __init__(self, base: str) -> None:
        self.base = base
        self.blocks: list[Block] = []
        self.run: list[str] = []

    def flush(self) -> None:
        """Loose text gathered so far (text nodes and inline elements outside any ``<p>``)
        becomes paragraphs, one per ``<br>``-separated line."""
        for line in "".join(self.run).split("\n"):
            text = squash(line)
            if text:
                self.blocks.append(Block("paragraph", text=text, markdown=text))
        self.run = []

    def walk(self, node: LexborNode, depth: int) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                self.run.append(child.text_content or "")
            elif tag == "br":
                self.run.append("\n")
            elif tag in _INLINE:
                self.run.append(child.text(deep=True) or "")
            elif tag != "-comment" and not _furniture(child):
                self.flush()
                self.block(child, depth)
                self.flush()

    def block(self, node: LexborNode, depth: int) -> None:
        tag = node.tag
        if tag in ("p", "pre") or tag in _HEADINGS:
            value = inline(node, self.base)
            if not value.text:
                return
            if tag in _HEADINGS:
                block = Block("heading", value.text, value.markdown, level=_HEADINGS[tag])
            else:
                block = Block("paragraph", value.text, value.markdown)
            self.blocks.append(block)
        elif tag in ("ul", "ol"):
            values = [inline(li, self.base) for li in node.css("li")]
            values = [v for v in values if v.text]
            if values:
                text = "\n".join(v.text for v in values)
                self.blocks.append(Block("list", text, items=tuple(v.markdown for v in values)))
        elif tag == "blockquote":
            if _SOCIAL_EMBED.search(node.attributes.get("class") or ""):
                return
            value = inline(node, self.base)
            if value.text:
                self.blocks.append(Block("quote", value.text, value.markdown))
        elif tag == "table":
            rows = []
            for row in node.css("tr"):
                cells = [squash(c.text(deep=True, separator=" ")) for c in row.css("td, th")]
                if any(cells):
                    rows.append(" | ".join(cells))
            if rows:
                self.blocks.append(Block("table", "\n".join(rows), items=tuple(rows)))
        elif depth < MAX_DEPTH:
            self.walk(node, depth + 1)


def read(node: LexborNode, base: str) -> tuple[Block, ...]:
    """The blocks of ``node``'s content, furniture left out."""
    reader = _Reader(base)
    reader.walk(node, 0)
    reader.flush()
    return tuple(reader.blocks)
