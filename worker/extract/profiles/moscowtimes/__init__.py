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
generic extractor; ``Extracted.fallbacks`` names each field that did. The markup a redesign
changes is read by dated layouts (:mod:`.layouts`); a page that shows none of them is read by
the generic profile with the ``NO_MATCH`` warning (the registry does that).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from worker.extract.profiles.moscowtimes.fields import NAME
from worker.extract.profiles.moscowtimes.layouts import LAYOUTS

_ARTICLE_OPEN = re.compile(r'<article\s+class="article[\s"]')
_SITE_ID = re.compile(r"-a(\d{1,12})(?=/?$)")
__all__ = ["LAYOUTS", "NAME", "focus", "site_id"]


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
