"""The profiles: every way news-worker knows of reading a site, by name.

A profile declares its name, how it derives an article's stable ID from its URL (the site's own
ID where it has one, else a hash of the URL's identity key, :func:`worker.parse.urls.identity_key`;
the profile says whether a trailing slash names the same page), and its layouts: the dated
versions of the site's markup, oldest first, each with its reader (:mod:`worker.extract.layouts`
says how one is chosen for a page). A page that shows none of a profile's layouts is read by the
generic profile and carries the ``NO_MATCH`` warning, which the pipeline logs and counts: a
redesign becomes visible instead of an archive of empty records. Configuration checks source
profiles against :func:`names`; URL identity and extraction ask :func:`get`. A site-specific
profile is a package under ``profiles/`` added here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from worker.extract import layouts as layouts_
from worker.extract.html import parse_html
from worker.extract.layouts import Layout, Page
from worker.extract.meta import page_meta
from worker.extract.profiles import generic, moscowtimes
from worker.model import NO_MATCH, Extracted
from worker.parse.feeds import FeedEntry
from worker.parse.urls import url_id


@dataclass(frozen=True)
class Profile:
    name: str
    layouts: tuple[Layout, ...]  # oldest first; the last one is current
    site_id: Callable[[str], str | None] | None = None  # the site's own article ID in a URL
    # The part of a page the layouts read (a speed-up), or None to parse the whole page.
    cut: Callable[[str], str | None] | None = None
    # Whether /x/ and /x are one page on this site. Not for the generic profile: some servers
    # serve two pages there, and archived URLs ending in a slash would change their IDs.
    trailing_slash: bool = False

    def __post_init__(self) -> None:
        layouts_.check(self.layouts)

    def article_id(self, url: str) -> str:
        """The stable archive ID of the article at ``url`` (any spelling of it)."""
        own = self.site_id(url) if self.site_id is not None else None
        return own or url_id(url, trailing_slash=self.trailing_slash)

    def read_page(self, text: str, url: str, entry: FeedEntry | None) -> Extracted:
        """A decoded page as a record's fields, read by the layout its markup shows."""
        cut = self.cut(text) if self.cut is not None else None
        tree = parse_html(cut or text)
        page = Page(text, tree, page_meta(tree, url), url, entry)
        layout = layouts_.choose(self.layouts, page)
        if layout is None and cut is not None:
            tree = parse_html(text)  # the cut missed: look at the whole page after all
            page = Page(text, tree, page_meta(tree, url), url, entry)
            layout = layouts_.choose(self.layouts, page)
        if layout is not None:
            return dataclasses.replace(layout.read(page), layout=layout.name)
        result = generic.read_tree(page.tree, text, page.meta, url, entry)
        known = ", ".join(layout.name for layout in self.layouts)
        return dataclasses.replace(
            result,
            warnings=(
                *result.warnings,
                f"{NO_MATCH}: {self.name} matched none of its layouts ({known})",
            ),
        )


_PROFILES = {
    profile.name: profile
    for profile in (
        # The site redirects every other spelling of a page to its canonical URL, which never
        # ends in a slash.
        Profile(
            moscowtimes.NAME,
            moscowtimes.LAYOUTS,
            moscowtimes.site_id,
            moscowtimes.focus,
            trailing_slash=True,
        ),
        Profile(generic.NAME, generic.LAYOUTS),
    )
}


def names() -> tuple[str, ...]:
    return tuple(_PROFILES)


def get(name: str) -> Profile:
    """The profile called ``name``; a KeyError names the known ones."""
    try:
        return _PROFILES[name]
    except KeyError:
        raise KeyError(f"no profile {name!r} (known: {', '.join(_PROFILES)})") from None


def article_id(url: str, profile: str) -> str:
    """The stable archive ID of the article at canonical ``url`` under ``profile``."""
    return get(profile).article_id(url)
