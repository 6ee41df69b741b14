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

from selectolax.lexbor import LexborHTMLParser, LexborNode

# An <article> is the body's container only if it holds at least this share of the paragraph
# text of the whole page: below it, the page is a listing of teasers (bigbrandsystem.com's
# blog, ign.com's deals) or the body lies outside the element.
ARTICLE_SHARE = 0.5


def paragraph_chars(node: LexborNode) -> int:
    """Characters of text in the ``<p>`` elements under ``node``."""
    return sum(len(p.text(deep=True).strip()) for p in node.css("p"))


def find(tree: LexborHTMLParser) -> LexborNode | None:
    """The element holding the article body, or None where the markup does not say reliably.

    First the element marked ``itemprop=articleBody`` (the one with most paragraph text if there
    are several), else the ``<article>`` with most paragraph text, if it holds at least
    ``ARTICLE_SHARE`` of the page's and no other ``<article>``."""
    marked = [n for n in tree.css('[itemprop~="articleBody"]') if n.tag != "meta"]
    if marked:
        return max(marked, key=paragraph_chars)
    # An <article> holding other <article>s is a list of posts (a related-posts box, a feed),
    # not one article (mensagensreflexao.com.br).
    articles = [n for n in tree.css("article") if len(n.css("article")) == 1]
    body = tree.body
    if not articles or body is None:
        return None
    best = max(articles, key=paragraph_chars)
    chars = paragraph_chars(best)
    if chars and chars >= ARTICLE_SHARE * paragraph_chars(body):
        return best
    return None


def focused(node: LexborNode) -> str:
    """The container as a page of its own, without its first ``<h1>``: the headline, a field of
    its own, which trafilatura keeps when it no longer sees it as the page's title."""
    page = LexborHTMLParser(f"<html><body>{node.html or ''}</body></html>")
    headline = page.css_first("h1")
    if headline is not None:
        headline.decompose()
    return page.html or ""
