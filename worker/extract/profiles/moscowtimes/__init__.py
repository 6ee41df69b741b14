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

import dataclasses
import re
from urllib.parse import urlsplit

from worker.extract.html import parse_html
from worker.extract.meta import page_meta
from worker.extract.profiles import generic
from worker.extract.profiles.moscowtimes.fields import NAME, extract
from worker.model import NO_MATCH, Extracted
from worker.parse.feeds import FeedEntry

_ARTICLE_OPEN = re.compile(r'<article\s+class="article[\s"]')
_SITE_ID = re.compile(r"-a(\d{1,12})(?=/?$)")
__all__ = ["NAME", "read_page", "site_id"]


def site_id(url: str) -> str | None:
    """``a87467`` from ``.../2024/12/27/...-says-a87467``: the LAST ``-a<digits>`` of the path
    (slugs may end in digits themselves). The site redirects any slug to the canonical one by
    this number alone, so it is the only stable key."""
    path = urlsplit(url).path
    matches = list(_SITE_ID.finditer(path))
    return f"a{matches[-1].group(1)}" if matches else None


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


def read_page(text: str, url: str, entry: FeedEntry | None) -> Extracted:
    """A Moscow Times page as a record's fields. Only the ``<head>`` and the main ``<article>``
    are parsed where they can be cut out safely; a page the profile does not match falls back
    to generic extraction with a warning (a redesign becomes visible, not silent)."""
    focused = focus(text)
    tree = parse_html(focused or text)
    meta = page_meta(tree, url)
    extracted, matched = extract(tree, meta, url, entry)
    if not matched and focused is not None:
        tree = parse_html(text)  # the cut missed: read the whole page after all
        meta = page_meta(tree, url)
        extracted, matched = extract(tree, meta, url, entry)
    if matched and tree.css_first(".article__content") is not None:
        return extracted
    if matched:
        return dataclasses.replace(
            extracted,
            body=generic.extract_body(text, url),
            method="generic",
            fallbacks=(*extracted.fallbacks, "body"),
            warnings=(*extracted.warnings, "no .article__content on the page"),
        )
    result = generic.read_tree(tree, text, meta, url, entry)
    return dataclasses.replace(
        result, warnings=(*result.warnings, f"{NO_MATCH}: {NAME} matched nothing")
    )
