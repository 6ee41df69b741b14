"""Article URLs: canonical form, URL-hash IDs and safe archive names.

An article is identified by the site's own ID where its profile knows one (see
:mod:`worker.extract.registry`), else by a hash of its canonical URL (:func:`url_id`). IDs
become file names, so they are restricted to a safe alphabet (:data:`SAFE_ID`).
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

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
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_")
    ]
    netloc = parts.netloc.lower() if "@" not in parts.netloc else parts.netloc
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def url_id(url: str) -> str:
    """A stable ID for an article the profile knows no site ID for: a hash of its canonical URL."""
    return "u" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:20]


def host_of(url: str) -> str:
    """Lower-case ``host[:port]`` of a URL, the key for per-host politeness."""
    return urlsplit(url).netloc.lower()
