"""Pure HTTP header logic, table-tested without a server.

``retry_delay`` reads Retry-After in both of its forms, ``cache_max_age`` reads Cache-Control,
``validators`` picks what a conditional GET needs next time, ``backoff`` is the schedule used
between runs. Time is always passed in.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from datetime import UTC, datetime

_MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-maxage|max-age)\s*=\s*\"?(\d{1,10})\"?", re.IGNORECASE)


def _get(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value


def parse_http_date(value: str) -> datetime | None:
    """An aware datetime from an HTTP date (RFC 9110 IMF-fixdate and the obsolete forms)."""
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def retry_delay(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds the server asks us to wait (Retry-After as seconds or an HTTP date), or None."""
    value = _get(headers, "Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value[:10]))
    when = parse_http_date(value)
    if when is None:
        return None
    return max(0.0, (when - now).total_seconds())


def cache_max_age(headers: Mapping[str, str]) -> float | None:
    """Seconds from Cache-Control ``max-age`` (or ``s-maxage``), None if absent or no-store."""
    value = _get(headers, "Cache-Control")
    if not value:
        return None
    if re.search(r"no-store|no-cache", value, re.IGNORECASE):
        return None
    match = _MAX_AGE.search(value)
    return float(match.group(1)) if match else None


def validators(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(ETag, Last-Modified) to send as If-None-Match / If-Modified-Since next time."""
    etag = _get(headers, "ETag")
    last_modified = _get(headers, "Last-Modified")
    return (etag.strip() if etag else None, last_modified.strip() if last_modified else None)


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """Request headers for a conditional GET from stored validators."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def backoff(attempts: int, base: float, cap: float) -> float:
    """Delay before try ``attempts + 1`` of a failed item: base doubling per attempt, capped."""
    if attempts <= 0:
        return 0.0
    return float(min(cap, base * (2 ** min(attempts - 1, 30))))


def next_poll(
    now: float,
    interval: float,
    *,
    ok: bool,
    failures: int = 0,
    max_age: float | None = None,
    retry_after: float | None = None,
    ttl_minutes: int | None = None,
    honour_ttl: bool = False,
    max_interval: float = 6 * 3600.0,
    failure_cap: float = 6 * 3600.0,
) -> float:
    """When to poll a feed next.

    After a success: the configured interval, raised (never lowered) by Cache-Control max-age and,
    if the source says so, the feed's ttl, both bounded by ``max_interval``. After a failure:
    the interval doubling with each consecutive failure, at least Retry-After, capped by
    ``failure_cap``; a failing feed is never abandoned.
    """
    if ok:
        delay = interval
        if max_age:
            delay = max(delay, min(max_age, max_interval))
        if honour_ttl and ttl_minutes:
            delay = max(delay, min(ttl_minutes * 60.0, max_interval))
    else:
        delay = min(failure_cap, interval * 2 ** min(max(failures - 1, 0), 30))
        if retry_after:
            delay = max(delay, min(retry_after, failure_cap))
    return now + delay


def now_utc() -> datetime:
    """The current time, aware, in UTC (the one clock read outside tests)."""
    return datetime.now(UTC)
