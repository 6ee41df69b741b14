"""HTML reading shared by the profiles: decoding, the page's metadata, inline text and Markdown.

Bytes are decoded here, not by httpx: many pages declare their charset only in ``<meta>``.
Order: BOM; valid UTF-8 (a mislabelled UTF-8 page is far likelier than single-byte text that
happens to be valid UTF-8); the Content-Type header; ``<meta charset>`` / ``http-equiv``;
detection.
Everything walks the tree with a depth bound, so hostile nesting cannot exhaust the stack.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import Any

import charset_normalizer
import orjson
from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.headers import content_charset
from worker.urls import canonical_url

MAX_DEPTH = 256
_BREAK = "\x1e"  # stands for <br> while inline content is collected
_META_CHARSET = re.compile(
    rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]{1,40})", re.IGNORECASE
)
_MD_ESCAPE = re.compile(r"([\\`*_\[\]<>])")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    # Browsers treat latin-1 labels as windows-1252, which is a superset.
    return "cp1252" if info.name in ("latin-1", "iso8859-1", "ascii") else info.name


def decode(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, encoding used) for an HTML body; never raises, undecodable bytes are replaced."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, "replace"), name
    declared = _codec(content_charset(content_type))
    match = _META_CHARSET.search(body[:8192])
    meta = _codec(match.group(1).decode("ascii")) if match else None
    if declared != "utf-8" and meta != "utf-8" and not body.isascii():
        # Valid UTF-8 with non-ASCII bytes is almost never another charset: a page labelled
        # latin-1 that decodes as UTF-8 is a mislabelled UTF-8 page.
        try:
            return body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    for candidate in (declared, meta):
        if candidate:
            try:
                return body.decode(candidate), candidate
            except (UnicodeDecodeError, LookupError):
                continue
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(body[:200_000]).best()
    detected = _codec(best.encoding) if best is not None else None
    chosen = detected or declared or meta or "cp1252"
    return body.decode(chosen, "replace"), chosen


MAX_NESTING = 2000
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]{0,15})\b[^<>]{0,4096}?(/?)>")
_NOT_NESTING = frozenset(
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


def nesting_depth(html: str, *, limit: int = MAX_NESTING) -> int:
    """Deepest element nesting of a page (auto-closed and void elements not counted), stopping
    at ``limit``. lexbor's tree builder is quadratic in depth: 100,000 nested divs take half a
    minute, so hostile nesting is measured before parsing. Pages with few tags skip the scan."""
    if len(html) < 40 * limit or html.count("<") < 20 * limit:
        return 0
    depth = deepest = 0
    for match in _TAG.finditer(html):
        closing, name, self_closing = match.groups()
        if self_closing or name.lower() in _NOT_NESTING:
            continue
        if closing:
            depth = max(0, depth - 1)
        else:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest >= limit:
                    break
    return deepest


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
            tag = child.tag
            if tag == "-text":
                value = (child.text_content or "").replace(_BREAK, " ")
                self.text.append(value)
                self.md.append(_escape(value))
            elif tag in ("-comment", "script", "style", "noscript", "template") or tag in skip:
                continue
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
    text = "\n".join(squash(line) for line in "".join(builder.text).split(_BREAK))
    md = "  \n".join(squash(line) for line in "".join(builder.md).split(_BREAK))
    return Inline(text.strip(), md.strip(), tuple(dict.fromkeys(builder.links)))


@dataclass(frozen=True)
class PageMeta:
    """What a page's ``<head>`` says about itself: meta tags, JSON-LD blocks, canonical, lang."""

    meta: dict[str, list[str]]
    jsonld: tuple[dict[str, Any], ...]
    jsonld_broken: int
    canonical: str | None
    language: str | None

    def first(self, *names: str) -> str | None:
        for name in names:
            for value in self.meta.get(name, []):
                value = squash(value)
                if value:
                    return value
        return None

    def all(self, name: str) -> list[str]:
        return [squash(v) for v in self.meta.get(name, []) if squash(v)]

    def objects(self, *types: str) -> list[dict[str, Any]]:
        """JSON-LD objects of the given @type (``@graph`` members included)."""
        wanted = set(types)
        found = []
        for obj in self.jsonld:
            kind = obj.get("@type")
            kinds = set(kind) if isinstance(kind, list) else {kind}
            if kinds & wanted:
                found.append(obj)
        return found


def _flatten_jsonld(data: object, out: list[dict[str, Any]], depth: int = 0) -> None:
    if depth > 8:
        return
    if isinstance(data, list):
        for item in data[:200]:
            _flatten_jsonld(item, out, depth + 1)
    elif isinstance(data, dict):
        out.append(data)
        graph = data.get("@graph")
        if graph is not None:
            _flatten_jsonld(graph, out, depth + 1)


_MICRODATA = frozenset({"datepublished", "datemodified", "headline", "articlesection"})
_HEAD_SELECTOR = 'meta, script[type="application/ld+json"], link[rel], a[rel], [itemprop]'


def _microdata(node: LexborNode, meta: dict[str, list[str]]) -> None:
    for prop in (node.attributes.get("itemprop") or "").lower().split():
        if prop == "author":
            # Microdata bylines: itemprop=author, often a Person with its own itemprop=name.
            name_node = node.css_first('[itemprop~="name"]')
            source = name_node if name_node is not None else node
            value = source.attributes.get("content") or text_of(source)
            if value and len(value) <= 120:
                meta.setdefault("microdata:author", []).append(value)
        elif prop in _MICRODATA:
            value = (
                node.attributes.get("datetime") or node.attributes.get("content") or text_of(node)
            )
            if value:
                meta.setdefault(prop, []).append(value)


def page_meta(tree: LexborHTMLParser, url: str) -> PageMeta:
    """Collect meta tags (by ``property``/``name``/``itemprop``), JSON-LD and canonical link.

    One pass over the tree with a combined selector: this runs on every page."""
    meta: dict[str, list[str]] = {}
    blocks: list[dict[str, Any]] = []
    broken = 0
    canonical = None
    for node in tree.css(_HEAD_SELECTOR):
        tag = node.tag
        attrs = node.attributes
        if tag == "meta":
            key = (
                attrs.get("property")
                or attrs.get("name")
                or attrs.get("itemprop")
                or attrs.get("http-equiv")  # content-language
            )
            content = attrs.get("content")
            if key and content is not None:
                meta.setdefault(key.strip().lower(), []).append(content)
        elif tag == "script":
            raw = node.text(deep=True) or ""
            if len(raw) > 2_000_000:
                broken += 1
                continue
            try:
                data = orjson.loads(raw.strip())
            except orjson.JSONDecodeError:
                broken += 1  # e.g. the Moscow Times' WebSite block with its trailing comma
                continue
            _flatten_jsonld(data, blocks)
        elif tag == "link":
            if canonical is None and "canonical" in (attrs.get("rel") or "").lower().split():
                canonical = canonical_url(attrs.get("href") or "", url)
        elif (
            tag == "a"
            and "author" in (attrs.get("rel") or "").lower().split()
            and "itemprop" not in attrs
        ):
            value = text_of(node)
            if value and len(value) <= 120:
                meta.setdefault("rel:author", []).append(value)
        else:
            _microdata(node, meta)
    html_node = tree.css_first("html")
    lang = squash(html_node.attributes.get("lang")) if html_node is not None else ""
    return PageMeta(meta, tuple(blocks), broken, canonical, lang or None)
