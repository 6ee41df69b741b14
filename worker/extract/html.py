"""HTML reading shared by the profiles: the markup check before any parse (nesting, elements,
attributes), the parse, inline text and Markdown, squashed visible text.

Everything walks the tree with a depth bound, so hostile nesting cannot exhaust the stack.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.errors import ExtractError
from worker.parse.urls import canonical_url

MAX_DEPTH = 256
_BREAK = "\x1e"  # stands for <br> while inline content is collected
_MD_ESCAPE = re.compile(r"([\\`*_\[\]<>])")

MAX_NESTING = 2000
MAX_ELEMENTS = 100_000  # the largest of 181 real pages has under 2,000
MAX_ATTRIBUTES = 10_000  # on one element; lexbor's parse is quadratic in them
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]{0,15})\b[^<>]{0,4096}?(/?)>")
_ELEMENT = re.compile(r"<[A-Za-z]")
_ATTRIBUTE = re.compile(r"""[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?""")
_FOREIGN = frozenset(["svg", "math"])  # inside them, "/>" closes an element, as in XML
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    ]
)
_NOT_NESTING = _VOID | frozenset(
    [
        "p",
        "li",
        "dt",
        "dd",
        "tr",
        "td",
        "th",
        "option",
        "optgroup",
        "tbody",
        "thead",
        "tfoot",
        "colgroup",
        "caption",
        "rp",
        "rt",
    ]
)


def nesting_depth(html: str, *, limit: int = MAX_NESTING, tags: int | None = None) -> int:
    """Deepest element nesting of a page (auto-closed and void elements not counted), stopping
    at ``limit``. lexbor's tree builder is quadratic in depth: 100,000 nested divs take half a
    minute, so hostile nesting is measured before parsing. As in HTML5, ``<div/>`` opens a div
    (only void elements and those inside ``<svg>`` or ``<math>`` close themselves). Pages with few
    tags skip the scan."""
    tags = html.count("<") if tags is None else tags
    if len(html) < 40 * limit or tags < 20 * limit:
        return 0
    depth = deepest = foreign = 0
    for match in _TAG.finditer(html):
        closing, name, self_closing = match.groups()
        name = name.lower()
        if name in _NOT_NESTING or (self_closing and foreign):
            continue
        if name in _FOREIGN:
            foreign = max(0, foreign + (-1 if closing else 1))
        if closing:
            depth = max(0, depth - 1)
        else:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest >= limit:
                    break
    return deepest


def _long_tags(html: str, length: int) -> list[str]:
    """The tags of ``html`` at least ``length`` characters long. A tag that long covers a whole
    window of half that length with no ``<`` or ``>`` in it, and the first bracket in a window
    clears it: on most pages a few bracket searches show there is none."""
    window = length // 2
    found: list[str] = []
    start = 0
    while start + window <= len(html):
        end = start + window
        if html.find(">", start, end) >= 0 or html.find("<", start, end) >= 0:
            start = end
            continue
        opened = max(html.rfind("<", 0, start), html.rfind(">", 0, start))
        closes = [i for i in (html.find(">", end), html.find("<", end)) if i >= 0]
        stop = min(closes) if closes else len(html)
        if opened >= 0 and html[opened] == "<" and stop - opened >= length:
            found.append(html[opened:stop])
        start = max(stop, end)
    return found


def most_attributes(html: str) -> int:
    """The most attributes on one element, counted only on tags long enough to hold more than
    :data:`MAX_ATTRIBUTES` (0 when there is none)."""
    most = 0
    for tag in _long_tags(html, 2 * MAX_ATTRIBUTES):
        if tag[1:2].isalpha():  # counted up to one past the cap: enough to refuse
            found = sum(1 for _ in itertools.islice(_ATTRIBUTE.finditer(tag), MAX_ATTRIBUTES + 2))
            most = max(most, found - 1)
    return most


def check_markup(html: str) -> None:
    """Refuse, before any tree is built, a page whose markup would make parsing it take minutes:
    too many elements, too many attributes on one, or nesting too deep."""
    tags = html.count("<")
    if tags > MAX_ELEMENTS and len(_ELEMENT.findall(html)) > MAX_ELEMENTS:
        raise ExtractError(
            f"HTML of more than {MAX_ELEMENTS} elements: refused", reason="too_many_elements"
        )
    if most_attributes(html) > MAX_ATTRIBUTES:
        raise ExtractError(
            f"an HTML element with more than {MAX_ATTRIBUTES} attributes: refused",
            reason="too_many_attributes",
        )
    if nesting_depth(html, tags=tags) >= MAX_NESTING:
        raise ExtractError(
            f"HTML nested {MAX_NESTING} or more levels deep: refused", reason="nested_too_deep"
        )


def parse_html(html: str) -> LexborHTMLParser:
    """The page's tree (the extractor has checked the markup: :func:`check_markup`)."""
    return LexborHTMLParser(html)


def squash(text: str | None) -> str:
    """Collapse runs of white space (template padding) into single spaces."""
    if not text:
        return ""
    if "\u200b" in text:
        text = text.replace("\u200b", " ")
    # str.split() is the C fast path (a regex here cost a third of the Moscow Times profile's
    # time); it splits on the same white space, no-break space included.
    return " ".join(text.split())


def text_of(node: LexborNode | None) -> str | None:
    """The visible text of a node, squashed; None if empty or missing."""
    if node is None:
        return None
    return squash(node.text(deep=True, separator=" ")) or None


@dataclass(frozen=True)
class Inline:
    """A run of inline content as plain text and as Markdown (links absolute)."""

    text: str
    markdown: str
    links: tuple[str, ...] = ()


def _escape(text: str) -> str:
    return _MD_ESCAPE.sub(r"\\\1", text)


@dataclass
class _InlineBuilder:
    base: str
    text: list[str] = field(default_factory=list)
    md: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)

    def walk(self, node: LexborNode, depth: int, skip: frozenset[str]) -> None:
        for child in node.iter(include_text=True):
            self.visit(child, depth, skip)

    def visit(self, child: LexborNode, depth: int, skip: frozenset[str]) -> None:
        tag = child.tag
        if tag == "-text":
            value = (child.text_content or "").replace(_BREAK, " ")
            self.text.append(value)
            self.md.append(_escape(value))
        elif tag in ("-comment", "script", "style", "noscript", "template") or tag in skip:
            return
        elif tag == "br":
            self.text.append(_BREAK)
            self.md.append(_BREAK)
        elif depth >= MAX_DEPTH:
            flat = child.text(deep=True, separator=" ")
            self.text.append(flat)
            self.md.append(_escape(flat))
        elif tag == "a":
            self._link(child, depth, skip)
        elif tag in ("em", "i", "strong", "b"):
            mark = "*" if tag in ("em", "i") else "**"
            inner = _InlineBuilder(self.base)
            inner.walk(child, depth + 1, skip)
            words = "".join(inner.md)
            self.text.extend(inner.text)
            self.links.extend(inner.links)
            stripped = words.strip()
            if stripped:
                lead = words[: len(words) - len(words.lstrip())]
                trail = words[len(words.rstrip()) :]
                self.md.append(f"{lead}{mark}{stripped}{mark}{trail}")
        else:
            self.walk(child, depth + 1, skip)

    def result(self) -> Inline:
        text = "\n".join(squash(line) for line in "".join(self.text).split(_BREAK))
        md = "  \n".join(squash(line) for line in "".join(self.md).split(_BREAK))
        return Inline(text.strip(), md.strip(), tuple(dict.fromkeys(self.links)))

    def _link(self, node: LexborNode, depth: int, skip: frozenset[str]) -> None:
        inner = _InlineBuilder(self.base)
        inner.walk(node, depth + 1, skip)
        label = "".join(inner.md).strip()
        self.text.extend(inner.text)
        href = canonical_url(node.attributes.get("href") or "", self.base)
        if href and label:
            self.links.append(href)
            self.md.append(f"[{squash(label)}]({href})")
        else:
            self.md.extend(inner.md)


def inline(node: LexborNode, base: str, skip: frozenset[str] = frozenset()) -> Inline:
    """Plain text and Markdown of a node's inline content; tags in ``skip`` are left out."""
    child = node.child
    if child is not None and child.tag == "-text" and child.next is None:
        # Most paragraphs are one run of text: no walk needed.
        text = squash(child.text_content)
        return Inline(text, _escape(text))
    builder = _InlineBuilder(base)
    builder.walk(node, 0, skip)
    return builder.result()


def inline_run(
    nodes: Iterable[LexborNode], base: str, skip: frozenset[str] = frozenset()
) -> Inline:
    """Plain text and Markdown of a run of sibling nodes: text and inline elements that stand
    outside any ``<p>``, as pasted copy does."""
    builder = _InlineBuilder(base)
    for node in nodes:
        builder.visit(node, 0, skip)
    return builder.result()
