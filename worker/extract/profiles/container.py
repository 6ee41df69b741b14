"""Where a page keeps its article, when its markup says so reliably.

Run on a whole page, trafilatura sometimes takes a sidebar, a teaser list or a live widget for the
article (CBS Sports' standings, Barron's quote boxes, Business Insider's round-ups on the
extraction benchmark). Many pages mark their body: ``itemprop=articleBody`` (schema.org
microdata), or an ``<article>`` that holds most of the page's paragraphs. Handing trafilatura
only that element keeps what lies outside it out of the body, and it works on a fraction of
the page. Where no element qualifies, the page is read whole, as before.

The rules and what each gained on the benchmark are in docs/EXTRACTION.md.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from worker.extract.meta import PageMeta
from worker.extract.profiles import metadata as md

# An <article> is the body's container only if it holds at least this share of the paragraph
# text of the whole page: below it, the page is a listing of teasers (bigbrandsystem.com's
# blog, ign.com's deals) or the body lies outside the element.
ARTICLE_SHARE = 0.5
# A JSON-LD articleBody agrees with the page when it has this many words, at least this share
# of them are in paragraphs of the page that it contains whole (not another article), and it
# is at least this share of the page's paragraph text (not a teaser: livescience.com and
# space.com declare their first 500 characters).
DECLARED_MIN_WORDS = 50
DECLARED_PRESENT = 0.9
DECLARED_SHARE = 0.5
_WORD = re.compile(r"\w+")


def paragraph_chars(node: LexborNode) -> int:
    """Characters of text in the ``<p>`` elements under ``node``."""
    return sum(len(p.text(deep=True).strip()) for p in node.css("p"))


def find(tree: LexborHTMLParser, meta: PageMeta) -> tuple[LexborNode, str] | None:
    """The element holding the article body and the rule that found it (``marked``,
    ``article``, ``declared``), or None where the page does not say reliably.

    In order: the element marked ``itemprop=articleBody`` (the one with most paragraph text if
    there are several); the ``<article>`` with most paragraph text, if it holds at least
    ``ARTICLE_SHARE`` of the page's and no other ``<article>``; the smallest element holding
    the paragraphs of a JSON-LD ``articleBody`` that agrees with the page."""
    body = tree.body
    if body is None:
        return None
    marked = [n for n in tree.css('[itemprop~="articleBody"]') if n.tag != "meta"]
    if marked:
        return max(marked, key=paragraph_chars), "marked"
    page_chars = paragraph_chars(body)
    # An <article> holding other <article>s is a list of posts (a related-posts box, a feed),
    # not one article (mensagensreflexao.com.br).
    articles = [n for n in tree.css("article") if len(n.css("article")) == 1]
    if articles:
        best = max(articles, key=paragraph_chars)
        chars = paragraph_chars(best)
        if chars and chars >= ARTICLE_SHARE * page_chars:
            return best, "article"
    declared = declared_body(meta)
    located = locate(body, declared) if declared else None
    if located is not None:
        return located, "declared"
    return None


def declared_body(meta: PageMeta) -> str | None:
    """The ``articleBody`` of the page's JSON-LD article (else of any of its objects)."""
    value = md.article_object(meta).get("articleBody")
    if isinstance(value, str):
        return value
    for obj in meta.jsonld:
        value = obj.get("articleBody")
        if isinstance(value, str):
            return value
    return None


def locate(body: LexborNode, declared: str) -> LexborNode | None:
    """The smallest element holding the page's paragraphs that ``declared`` contains whole, if
    ``declared`` agrees with the page (see ``DECLARED_*``); else None."""
    words = _WORD.findall(declared.casefold())
    if len(words) < DECLARED_MIN_WORDS:
        return None
    target = f" {' '.join(words)} "
    found: list[LexborNode] = []
    matched = page_words = 0
    for p in body.css("p"):
        own = _WORD.findall(p.text(deep=True).casefold())
        page_words += len(own)
        # Under four words a paragraph ("Advertisement", "Read more") matches by chance.
        if len(own) >= 4 and f" {' '.join(own)} " in target:
            found.append(p)
            matched += len(own)
    if matched < DECLARED_PRESENT * len(words) or len(words) < DECLARED_SHARE * page_words:
        return None
    ancestor = _common_ancestor(found)
    return ancestor if ancestor is not None and ancestor.tag not in ("body", "html") else None


def _common_ancestor(nodes: list[LexborNode]) -> LexborNode | None:
    path: list[LexborNode] = []
    node: LexborNode | None = nodes[0]
    while node is not None:
        path.append(node)
        node = node.parent
    index = {n.mem_id: i for i, n in enumerate(path)}
    top = 0
    for node in nodes[1:]:
        while node is not None and node.mem_id not in index:
            node = node.parent
        if node is None:
            return None
        top = max(top, index[node.mem_id])
    return path[top]


def focused(node: LexborNode) -> LexborHTMLParser:
    """The container as a page of its own, without its first ``<h1>``: the headline, a field of
    its own, which trafilatura keeps when it no longer sees it as the page's title."""
    page = LexborHTMLParser(f"<html><body>{node.html or ''}</body></html>")
    headline = page.css_first("h1")
    if headline is not None:
        headline.decompose()
    return page
