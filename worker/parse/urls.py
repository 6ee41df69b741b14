"""Article URLs: the URL to request, the identity key, URL-hash IDs and safe archive names.

Two forms of a URL, on purpose. :func:`canonical_url` is the URL requested: resolved, without its
fragment and ``utm_*`` parameters (the Moscow Times' robots.txt forbids them), otherwise spelled
as given (``?id`` stays ``?id``, ``%20`` stays ``%20``: some servers treat other spellings as
other pages). :func:`identity_key` is what identifies the page: w3lib's ``canonicalize_url``
(query arguments sorted, dot segments resolved, percent-encoding of unreserved characters
undone, the rest encoded one way), the host lower-cased, a default port dropped, and, where the
profile says a trailing slash names the same page, no trailing slash. An article is identified by
the site's own ID where its profile knows one (see :mod:`worker.extract.registry`), else by a
hash of the identity key (:func:`url_id`): an already canonical URL is its own key, so its ID is
the one it always had. IDs become file names, so they are restricted to a safe alphabet
(:data:`SAFE_ID`).
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

MAX_URL_LENGTH = 2048
_ALREADY_CANONICAL = re.compile(r"^https?://([A-Za-z0-9.-]+(?::[0-9]{1,5})?)/[^?#\s\\]*$")
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def canonical_url(href: str, base: str | None = None) -> str | None:
    """Absolute http(s) URL without fragment and ``utm_*`` parameters, or None if unusable.

    Relative links are resolved against ``base``. Other schemes (``file:``, ``javascript:``...),
    URLs without a host and absurdly long URLs give None.
    """
    href = href.strip()
    if not href or len(href) > MAX_URL_LENGTH or any(c in href for c in "\x00\r\n\t"):
        return None
    fast = _ALREADY_CANONICAL.match(href)
    if fast is not None and fast.group(1) == fast.group(1).lower():
        return href  # absolute, lower-case host, no query or fragment: nothing to change
    try:
        absolute = urljoin(base, href) if base else href
        parts = urlsplit(absolute)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            return None
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return None
    query = "&".join(
        pair
        for pair in parts.query.split("&")
        if pair and not unquote(pair.split("=", 1)[0]).lower().startswith("utm_")
    )
    netloc = parts.netloc.lower() if "@" not in parts.netloc else parts.netloc
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, query, ""))


def identity_key(url: str, *, trailing_slash: bool = False) -> str:
    """The form of ``url`` that is the same for every spelling of one page (see the module
    docstring); ``trailing_slash`` says ``/x/`` and ``/x`` are one page."""
    try:
        parts = urlsplit(canonicalize_url(url))
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" not in netloc:  # credentials in a URL: left as they are
        host = f"[{host}]" if ":" in host else host
        default = port is None or port == {"http": 80, "https": 443}.get(parts.scheme)
        netloc = host if default else f"{host}:{port}"
    path = parts.path or "/"
    if trailing_slash and len(path) > 1 and path.endswith("/") and not parts.query:
        path = path.rstrip("/") or "/"
    return urlunsplit((parts.scheme, netloc, path, parts.query, ""))


def url_id(url: str, *, trailing_slash: bool = False) -> str:
    """A stable ID for an article the profile knows no site ID for: a hash of its identity key
    (:func:`identity_key`)."""
    key = identity_key(url, trailing_slash=trailing_slash)
    return "u" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def host_of(url: str) -> str:
    """Lower-case ``host[:port]`` of a URL, the key for per-host politeness."""
    return urlsplit(url).netloc.lower()
