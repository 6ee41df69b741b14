"""What a page says about itself: meta tags, JSON-LD (``@graph`` flattened, broken blocks
counted, not fatal), microdata, ``rel=author``, the canonical link and the language, read in one
pass over the tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.extract.html import squash, text_of
from worker.parse.urls import canonical_url


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
