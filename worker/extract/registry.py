"""The profiles: every way news-worker knows of reading a site, by name.

A profile declares its name, how it derives an article's stable ID from its URL (the site's own
ID where it has one, else a hash of the URL's identity key, :func:`worker.parse.urls.identity_key`;
the profile says whether a trailing slash names the same page), and how it reads a decoded page
into a record's fields. Configuration checks source profiles against :func:`names`; URL identity and
extraction ask :func:`get`. A site-specific profile is a package under ``profiles/`` added here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from worker.extract.profiles import generic, moscowtimes
from worker.model import Extracted
from worker.parse.feeds import FeedEntry
from worker.parse.urls import url_id


@dataclass(frozen=True)
class Profile:
    name: str
    read_page: Callable[[str, str, FeedEntry | None], Extracted]  # (text, url, feed entry)
    site_id: Callable[[str], str | None] | None = None  # the site's own article ID in a URL
    # Whether /x/ and /x are one page on this site. Not for the generic profile: some servers
    # serve two pages there, and archived URLs ending in a slash would change their IDs.
    trailing_slash: bool = False

    def article_id(self, url: str) -> str:
        """The stable archive ID of the article at ``url`` (any spelling of it)."""
        own = self.site_id(url) if self.site_id is not None else None
        return own or url_id(url, trailing_slash=self.trailing_slash)


_PROFILES = {
    profile.name: profile
    for profile in (
        # The site redirects every other spelling of a page to its canonical URL, which never
        # ends in a slash.
        Profile(moscowtimes.NAME, moscowtimes.read_page, moscowtimes.site_id, trailing_slash=True),
        Profile(generic.NAME, generic.read_page),
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
