"""Feed autodiscovery: the feeds a site announces in its pages, and those at common paths.

The helpers are pure; the ``discover`` command fetches the page and the candidates through the
fetcher (so robots.txt and politeness apply) and keeps only candidates that parse as feeds. The
page and the feeds are parsed in a worker process inside the item budget, as in a poll.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from worker.config import Settings
from worker.errors import ConfigError, ExtractError, FetchError, ParseError
from worker.extract.html import squash
from worker.ingest.pool import WorkerPool
from worker.net.fetcher import Fetcher
from worker.parse import feeds
from worker.parse.charset import decode
from worker.parse.urls import canonical_url

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
)
COMMON_PATHS = (
    "/feed",
    "/feed/",
    "/rss",
    "/rss.xml",
    "/feed.xml",
    "/atom.xml",
    "/index.xml",
    "/rss/news",
    "/rss/all",
    "/feeds/posts/default",
    "/?feed=rss2",
    "/news/rss.xml",
    "/feed/atom",
)


@dataclass(frozen=True)
class Candidate:
    url: str
    title: str | None
    how: str  # "announced" or "common path"


def announced(body: bytes, url: str, content_type: str | None = None) -> list[Candidate]:
    """Feeds a page announces with ``<link rel="alternate" type="...rss/atom...">``."""
    text, _ = decode(body, content_type)
    tree = LexborHTMLParser(text)
    found: dict[str, Candidate] = {}
    for link in tree.css("link[href]"):
        attrs = link.attributes
        rel = (attrs.get("rel") or "").lower().split()
        kind = (attrs.get("type") or "").lower().split(";")[0].strip()
        if "alternate" not in rel or kind not in FEED_TYPES:
            continue
        href = canonical_url(attrs.get("href") or "", url)
        if href and href not in found:
            found[href] = Candidate(href, squash(attrs.get("title")) or None, "announced")
    return list(found.values())


def common(url: str) -> list[Candidate]:
    """Candidates at the paths feeds are usually found at, on the page's origin."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return [Candidate(origin + path, None, "common path") for path in COMMON_PATHS]


def front_page(
    body: bytes, url: str, content_type: str | None = None
) -> tuple[list[Candidate], str | None]:
    """The feeds a page announces and the site's title, from one page (in a worker process)."""
    return announced(body, url, content_type), site_title(body, content_type)


def site_title(body: bytes, content_type: str | None = None) -> str | None:
    """The site's own name, as its page gives it: ``og:site_name``, ``application-name``, else
    the ``<title>`` up to its first separator ("The Moscow Times | News" -> "The Moscow Times")."""
    tree = LexborHTMLParser(decode(body, content_type)[0])
    for selector in ('meta[property="og:site_name"]', 'meta[name="application-name"]'):
        node = tree.css_first(selector)
        name = squash(node.attributes.get("content")) if node is not None else None
        if name:
            return name
    title = tree.css_first("title")
    text = squash(title.text()) if title is not None else None
    return first_part(text) if text else None


def first_part(title: str) -> str:
    """A title up to its first separator: the site's name in "Site | Section"."""
    return re.split(r"\s+[|–—-]\s+", title)[0]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64].strip("-")


def source_name(url: str, title: str | None = None) -> str:
    """A config-safe source name after the site: its domain (``www.example.co.uk`` ->
    ``example``), or for a host that is an address or a bare name (``127.0.0.1``,
    ``localhost``) its title; never a fragment of an address."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    try:
        ipaddress.ip_address(host)
        named = False
    except ValueError:
        named = "." in host
    if named:
        labels = [p for p in host.split(".") if p not in ("www", "m", "feeds", "rss", "news")]
        if len(labels) > 1 or (labels and not title):
            return _slug(labels[0]) or "site"
    return (_slug(title) if title else "") or "site"


def _first_title(found: list[tuple[Candidate, str]], titles: dict[Candidate, str]) -> str | None:
    """The title of the first feed found (in the order they were looked for), up to its first
    separator: "The Moscow Times - News" names the site "The Moscow Times"."""
    named = [titles[c] for c, _ in found if c in titles]
    return first_part(named[0]) if named else None


async def discover(settings: Settings, url: str) -> tuple[int, str]:
    """The feeds a site announces or serves at common paths, as a ready ``[[sources]]`` table."""
    if canonical_url(url) is None:
        raise ConfigError(f"URL {url!r}: not an http(s) URL")
    lines: list[str] = []
    pool = WorkerPool(1, settings.limits)
    async with Fetcher(settings.http, settings.retry) as fetcher:
        candidates: list[Candidate] = []
        title = None
        try:
            page = await fetcher.get(url)
            found, title = await pool.run(
                front_page, page.body, page.url, page.headers.get("content-type")
            )
            candidates += found
        except (FetchError, ExtractError) as exc:
            lines.append(f"# {url}: {exc}")
        candidates += common(url)

        async def check(
            candidate: Candidate,
        ) -> tuple[Candidate, str] | None:
            try:
                response = await fetcher.get(candidate.url, kind="feed")
                feed = await pool.run(
                    feeds.parse, response.body, response.url, response.headers.get("content-type")
                )
            except (FetchError, ParseError, ExtractError):
                return None
            if not feed.entries:
                return None
            if feed.title:
                feed_titles[candidate] = feed.title
            return candidate, f"{feed.title or candidate.title or ''} ({len(feed.entries)} entries)"

        feed_titles: dict[Candidate, str] = {}
        try:
            results = await asyncio.gather(*(check(c) for c in dict.fromkeys(candidates)))
        finally:
            pool.close()
    working = [r for r in results if r is not None]
    seen: set[str] = set()
    unique = []
    for candidate, label in working:
        if candidate.url.rstrip("/") not in seen:
            seen.add(candidate.url.rstrip("/"))
            unique.append((candidate, label))
    if not unique:
        lines.append(f"# no feed found for {url}")
        return 1, "\n".join(lines) + "\n"
    lines.append(f"# feeds found for {url}")
    lines += [
        "",
        "[[sources]]",
        f'name = "{source_name(url, title or _first_title(unique, feed_titles))}"',
        'profile = "generic"',
        "feeds = [",
    ]
    for candidate, label in unique:
        lines.append(f'    "{candidate.url}",  # {label.strip()} [{candidate.how}]')
    lines += ["]", 'interval = "10m"']
    return 0, "\n".join(lines) + "\n"
