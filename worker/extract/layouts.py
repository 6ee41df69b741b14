"""Dated layouts: the versions of a site's markup a profile can read, and which one reads a page.

Sites are redesigned. From one day on their pages come in new markup, old articles included, and
a profile that knew only the old markup silently reads less. So a profile carries its layouts in
order, oldest first, each valid until a date (the last day it was served; the current one has
none), as fundus dates its publishers' parser versions. A new redesign adds a layout and dates
the one before; pages in the old markup are still read by the old one.

fundus chooses a version by the crawl date alone. Extraction here never sees a clock (a raw page
may be re-extracted years later), and a page's own dates say when it was written, not when its
template was rendered: an article of 2024 fetched after a redesign comes in the new markup. So
the page's markup decides and its date breaks ties:

- a layout's ``structure`` are selectors of which at least one is found on every page in it
  (none listed: any page); a page showing no layout's structure is drift (``NO_MATCH``);
- its ``markers`` are selectors of its own parts (what the redesign changed); among the layouts
  whose structure is found, the one with the most markers found reads the page;
- on a tie, the layout valid on the page's date (its latest stated date: modified, else
  published, else the URL's ``/YYYY/MM/DD/``) comes first, then the newer ones, then the older.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from selectolax.lexbor import LexborHTMLParser

from worker.extract.meta import PageMeta
from worker.extract.profiles import metadata as md
from worker.model import Extracted
from worker.parse import dates
from worker.parse.feeds import FeedEntry

_URL_DATE = re.compile(r"/(\d{4})/(\d{1,2})/(\d{1,2})/")


@dataclass(frozen=True)
class Page:
    """One page as a layout reads it: the whole decoded text, its parsed tree (perhaps of the
    profile's cut of it), what it says about itself, its URL and its feed entry."""

    text: str
    tree: LexborHTMLParser
    meta: PageMeta
    url: str
    entry: FeedEntry | None


@dataclass(frozen=True)
class Layout:
    """One version of a site's markup and the reader of pages in it."""

    name: str
    read: Callable[[Page], Extracted]
    valid_until: date | None = None  # the last day it was served; None: the current layout
    structure: tuple[str, ...] = ()  # one of these is found on every page in it; () any page
    markers: tuple[str, ...] = ()  # its own parts: the more of them found, the likelier

    def shows(self, tree: LexborHTMLParser) -> bool:
        return not self.structure or any(tree.css_first(s) is not None for s in self.structure)

    def score(self, tree: LexborHTMLParser) -> int:
        return sum(tree.css_first(s) is not None for s in self.markers)


def check(layouts: Sequence[Layout]) -> tuple[Layout, ...]:
    """The layouts, validated: at least one, oldest first, only the last one undated."""
    if not layouts:
        raise ValueError("a profile needs at least one layout")
    *old, current = layouts
    if current.valid_until is not None or any(layout.valid_until is None for layout in old):
        raise ValueError("only the last (current) layout has no valid_until date")
    ends = [layout.valid_until for layout in old if layout.valid_until is not None]
    if ends != sorted(set(ends)):
        raise ValueError("layouts must be in order, oldest first, each ending on its own day")
    return tuple(layouts)


def page_date(meta: PageMeta, url: str) -> date | None:
    """The latest date a page states about itself: modified, else published, else the URL's."""
    obj = md.article_object(meta)
    stated = md.first_date(
        meta.first("article:modified_time"),
        md.ld_string(obj, "dateModified"),
        meta.first("article:published_time"),
        md.ld_string(obj, "datePublished"),
    )
    parsed = dates.parse_date(stated)
    if parsed is not None:
        return parsed.date()  # in the page's own offset: the site's local day
    found = _URL_DATE.search(url)
    if found is None:
        return None
    try:
        return date(*(int(part) for part in found.groups()))
    except ValueError:
        return None


def by_date(layouts: Sequence[Layout], when: date | None) -> tuple[Layout, ...]:
    """The layouts in order of likelihood for a page of ``when``: the one valid then (the first
    whose valid_until is on or after it), then the newer ones, then the older ones, newest first.
    Undated pages: newest first."""
    index = len(layouts) - 1
    if when is not None:
        index = next(
            (
                i
                for i, layout in enumerate(layouts)
                if layout.valid_until is None or when <= layout.valid_until
            ),
            index,
        )
    return (*layouts[index:], *reversed(layouts[:index]))


def choose(layouts: Sequence[Layout], page: Page) -> Layout | None:
    """The layout that reads ``page``, or None when the page shows none of them (drift)."""
    scored = [(layout.score(page.tree), layout) for layout in layouts if layout.shows(page.tree)]
    if not scored:
        return None
    best = max(score for score, _ in scored)
    top = [layout for score, layout in scored if score == best]
    if len(top) == 1:
        return top[0]
    # A tie: the page's date decides (read only now: most pages are told by their markup).
    order = by_date(layouts, page_date(page.meta, page.url))
    return next(layout for layout in order if any(layout is t for t in top))
