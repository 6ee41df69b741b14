"""Dates as sources write them, kept with their offset.

Feeds write RFC 2822 dates (``Fri, 27 Dec 2024 12:00:00 +0300``), pages ISO 8601
(``2024-12-27T12:00:00+03:00``). Records keep the source's offset, so these helpers never convert
to UTC except to choose the archive folder.
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime

_ISO_LOOSE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_date(value: str | None) -> datetime | None:
    """An aware or naive datetime from ISO 8601 or RFC 2822 text, or None if unreadable."""
    if not value:
        return None
    value = value.strip()
    if not value or len(value) > 64:
        return None
    match = _ISO_LOOSE.match(value)
    if match:
        day, clock, zone = match.groups()
        if "." in clock:
            whole, frac = clock.split(".")
            clock = f"{whole}.{frac[:6]:0<6}"
        if zone and zone != "Z" and ":" not in zone:
            zone = f"{zone[:3]}:{zone[3:]}"
        try:
            return datetime.fromisoformat(f"{day}T{clock}{zone or ''}".replace("Z", "+00:00"))
        except ValueError:
            return None
    if re.match(r"^\d{4}-\d{2}-\d{2}$", value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed


def iso(value: datetime | None) -> str | None:
    """ISO 8601 text keeping the offset (seconds precision); naive values stay naive."""
    if value is None:
        return None
    return value.isoformat(timespec="seconds" if not value.microsecond else "microseconds")


def normalize(value: str | None) -> str | None:
    """The ISO form of a date string, keeping its offset; None if unreadable. A date without a
    time stays a date: no midnight is invented."""
    parsed = parse_date(value)
    if parsed is not None and value is not None and re.match(r"^\s*\d{4}-\d{2}-\d{2}\s*$", value):
        return parsed.date().isoformat()
    return iso(parsed)


def utc_day(value: str | None, fallback: datetime) -> tuple[str, str, str]:
    """(YYYY, MM, DD) of a date string in UTC, for the archive folder; naive means UTC."""
    parsed = parse_date(value) or fallback
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    day = parsed.astimezone(UTC)
    return f"{day.year:04d}", f"{day.month:02d}", f"{day.day:02d}"
